//! Errors that name the real cause: an unparsable or unusable AWS file named (with its line) in
//! every mode, never blamed on a variable nobody set or on the image.

use crate::common::*;
use std::path::PathBuf;

const KUBELET_REQUEST: &str = r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"}"#;

/// `~/.aws/config` with profile `dev` defined, and line 4 something the SDK's parser refuses.
fn unparsable_aws_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.home().join(".aws");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config");
    std::fs::write(
        &path,
        "[profile dev]\nregion = us-east-1\n\nthis line is not a setting\n",
    )
    .unwrap();
    path
}

fn names_the_file_and_line(text: &str, path: &std::path::Path) -> bool {
    text.contains(&format!("{} on line 4", path.display()))
}

#[test]
fn an_unparsable_aws_config_is_named_with_its_line_by_get() {
    // Environment keys and no profile: the file is still read, and still broken.
    let sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        names_the_file_and_line(&stdout(&out), &path),
        "{}",
        describe(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1, "{}", describe(&out));
}

#[test]
fn an_unparsable_aws_config_is_not_called_a_foreign_image_by_the_kubelet_mode() {
    let sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    let out = sb.run(["kubelet"], KUBELET_REQUEST);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(names_the_file_and_line(&err, &path), "{}", describe(&out));
    assert!(
        !err.contains("not an Amazon ECR registry") && !err.contains("matchImages"),
        "{}",
        describe(&out)
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

#[test]
fn doctor_does_not_call_a_profile_of_an_unparsable_file_undefined() {
    let mut sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "dev");
    let out = sb.run(["doctor", &private_host(MOTO_ACCOUNT, "us-east-1")], "");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(names_the_file_and_line(&text, &path), "{text}");
    assert!(!text.contains("is not defined"), "{text}");
    assert!(!text.contains("(not found)"), "{text}");
}

#[test]
fn an_unusable_default_aws_config_is_named_without_blaming_its_variable() {
    let sb = Sandbox::new();
    let path = sb.home().join(".aws/config");
    std::fs::create_dir_all(&path).unwrap();
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text.contains(&format!(
            "{} (the default; AWS_CONFIG_FILE is unset) is not a regular file",
            path.display()
        )),
        "{}",
        describe(&out)
    );
}
