//! `AWS_CA_BUNDLE` and the profile's `ca_bundle` (issue 18), with the AWS CLI's meaning: the
//! bundle is the trust store of every AWS call, the variable wins over the profile, and a
//! bundle that cannot be read fails the call (botocore: `SSLError ... No such file or
//! directory`) instead of falling back to the system's CAs. Against the emulator served over
//! TLS on 127.0.0.1 with a certificate of a private CA made here, as a TLS-inspecting
//! proxy's would be: nothing trusts that CA unless a setting names it.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The private CA (its PEM, for the settings), another CA that did not sign the server's
/// certificate, and the emulator serving that certificate.
struct PrivateCa {
    dir: tempfile::TempDir,
    emulator: Emulator,
}

impl PrivateCa {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    /// A sandbox on the TLS emulator that trusts nothing but the system's CAs.
    fn sandbox(&self) -> Sandbox {
        let mut sb = Sandbox::with_emulator(self.emulator.addr());
        sb.env_remove("SSL_CERT_FILE").disable_cache();
        sb
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", describe(&out));
}

fn make_ca(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &key,
            "-out",
            &pem,
        ],
    );
}

/// A certificate for 127.0.0.1 signed by the CA in `dir`: `server.pem`, `server.key`.
fn make_server_cert(d: &Path) {
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// The shared TLS emulator, or `None` (after a loud skip) without openssl.
fn private_ca(test: &str) -> Option<&'static PrivateCa> {
    static CA: OnceLock<PrivateCa> = OnceLock::new();
    if !have(test, &["openssl"]) {
        return None;
    }
    Some(CA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_ca(d, "ca");
        make_ca(d, "other-ca");
        make_server_cert(d);
        let (cert, key) = (d.join("server.pem"), d.join("server.key"));
        let emulator = Emulator::start_with(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        PrivateCa { dir, emulator }
    }))
}

fn host() -> String {
    private_host(MOTO_ACCOUNT, "eu-west-1")
}

/// The one-line error a failed `get` prints on stdout, where clients read it.
fn get_error(sb: &Sandbox) -> String {
    let out = sb.get(&host());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert_eq!(text.trim_end().lines().count(), 1, "{}", describe(&out));
    text
}

#[test]
fn aws_ca_bundle_is_the_trust_store_of_ecr_calls() {
    let Some(ca) = private_ca("aws_ca_bundle_is_the_trust_store_of_ecr_calls") else {
        return;
    };
    let mut sb = ca.sandbox();
    sb.env("AWS_CA_BUNDLE", ca.ca());
    assert_eq!(sb.get_ok(&host())["Secret"], private_password(MOTO_ACCOUNT));
    assert_eq!(sb.calls(), (1, 0));
    // doctor names the bundle in use.
    let out = sb.run(["doctor", &host()], "");
    let text = stdout(&out);
    let want = format!("{} (AWS_CA_BUNDLE)", ca.ca().display());
    assert!(
        text.lines().any(|l| l.contains("tls") && l.contains(&want)),
        "{text}"
    );
}

#[test]
fn the_profiles_ca_bundle_is_used_and_the_variable_wins_over_it() {
    let test = "the_profiles_ca_bundle_is_used_and_the_variable_wins_over_it";
    let Some(ca) = private_ca(test) else {
        return;
    };
    let mut sb = ca.sandbox();
    let config = sb.root().join("aws-config");
    std::fs::write(
        &config,
        format!("[profile corp]\nca_bundle = {}\n", ca.ca().display()),
    )
    .unwrap();
    sb.env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "corp");
    assert_eq!(sb.get_ok(&host())["Secret"], private_password(MOTO_ACCOUNT));
    assert_eq!(sb.calls(), (1, 0));
    // AWS_CA_BUNDLE naming a CA that did not sign the server's certificate: it alone is
    // trusted, as in the AWS CLI, and the error names it.
    sb.env("AWS_CA_BUNDLE", ca.other_ca());
    let err = get_error(&sb);
    assert!(err.contains("UnknownIssuer"), "{err}");
    let named = format!(
        "not signed by a CA in the CA bundle {} (AWS_CA_BUNDLE)",
        ca.other_ca().display()
    );
    assert!(err.contains(&named), "{err}");
    assert_eq!(sb.calls(), (1, 0));
}

#[test]
fn a_role_assumed_through_sts_trusts_the_bundle_too() {
    let Some(ca) = private_ca("a_role_assumed_through_sts_trusts_the_bundle_too") else {
        return;
    };
    let mut sb = ca.sandbox();
    let base = sb.akid.clone();
    let sts = sb.emulator.endpoint().to_string();
    let config = sb.root().join("aws-config");
    let credentials = sb.root().join("aws-credentials");
    std::fs::write(
        &config,
        format!(
            "[profile deploy]\nrole_arn = arn:aws:iam::210987654321:role/puller\n\
             source_profile = base\nca_bundle = {}\n",
            ca.ca().display()
        ),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        format!("[base]\naws_access_key_id = {base}\naws_secret_access_key = {TEST_SECRET_KEY}\n"),
    )
    .unwrap();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_PROFILE", "deploy")
        .env("AWS_ENDPOINT_URL_STS", &sts);
    // moto's STS answers with keys of the role's account, and ECR with that account's token.
    assert_eq!(
        sb.get_ok(&host())["Secret"],
        private_password("210987654321")
    );
    assert_eq!(
        sb.emulator.sts_calls(&base),
        1,
        "the role was assumed over TLS"
    );
    // Without the bundle, the STS call is the one refused, and the error says what to set.
    std::fs::write(
        &config,
        "[profile deploy]\nrole_arn = arn:aws:iam::210987654321:role/puller\nsource_profile = base\n",
    )
    .unwrap();
    let err = get_error(&sb);
    assert!(
        err.contains("AWS STS") && err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(
        err.contains("set AWS_CA_BUNDLE or ca_bundle in the AWS profile"),
        "{err}"
    );
}

#[test]
fn an_untrusted_certificate_names_the_two_settings() {
    let Some(ca) = private_ca("an_untrusted_certificate_names_the_two_settings") else {
        return;
    };
    let sb = ca.sandbox();
    let err = get_error(&sb);
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(
        err.contains("behind a TLS-inspecting proxy, set AWS_CA_BUNDLE or ca_bundle in the AWS profile to a PEM file of your organisation's CA"),
        "{err}"
    );
    assert_eq!(sb.calls(), (0, 0));
}

/// ECR Public's API is an AWS call like the others: it trusts the bundle, and without it the
/// untrusted certificate is named, not taken for anonymous access or a missing credential.
#[test]
fn ecr_public_trusts_the_bundle_too() {
    let Some(ca) = private_ca("ecr_public_trusts_the_bundle_too") else {
        return;
    };
    let mut sb = ca.sandbox();
    sb.env("AWS_CA_BUNDLE", ca.ca());
    assert_eq!(sb.get_ok("public.ecr.aws")["Secret"], PUBLIC_PASSWORD);
    assert_eq!(sb.calls(), (0, 1));
    sb.env_remove("AWS_CA_BUNDLE");
    let out = sb.get("public.ecr.aws");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stdout(&out);
    assert!(
        err.contains("UnknownIssuer") && err.contains("AWS_CA_BUNDLE"),
        "{err}"
    );
    assert_eq!(sb.calls(), (0, 1));
}

/// botocore fails every call with a bundle it cannot load (a missing file, a directory, a file
/// with no certificate) rather than trust the system's CAs: so does the helper, in one line
/// naming the file and the setting.
#[test]
fn a_bundle_that_cannot_be_read_fails_the_call_in_one_line() {
    let Some(ca) = private_ca("a_bundle_that_cannot_be_read_fails_the_call_in_one_line") else {
        return;
    };
    let mut sb = ca.sandbox();
    let not_pem = sb.root().join("not-a-bundle.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let missing = sb.root().join("missing.pem");
    let cases = [
        (missing.clone(), "cannot read the CA bundle"),
        (sb.root().to_path_buf(), "cannot read the CA bundle"),
        (not_pem.clone(), "holds no PEM certificate"),
    ];
    for (bundle, want) in cases {
        sb.env("AWS_CA_BUNDLE", &bundle);
        let err = get_error(&sb);
        let named = format!("{} (AWS_CA_BUNDLE)", bundle.display());
        assert!(err.contains(want) && err.contains(&named), "{err}");
        assert!(err.contains("fix or unset the setting"), "{err}");
    }
    assert_eq!(sb.calls(), (0, 0));
}

/// The kubelet mode's AssumeRoleWithWebIdentity is an AWS call like the others: over TLS, it
/// trusts the bundle too.
#[test]
fn the_kubelets_web_identity_trusts_the_bundle_too() {
    use crate::kubelet::{sa_request, sa_token};
    let Some(ca) = private_ca("the_kubelets_web_identity_trusts_the_bundle_too") else {
        return;
    };
    let mut sb = ca.sandbox();
    let sts = sb.emulator.endpoint().to_string();
    sb.env("AWS_ENDPOINT_URL_STS", &sts)
        .env("AWS_CA_BUNDLE", ca.ca());
    let request = sa_request(
        &format!("{}/app:1", host()),
        &sa_token("team", "puller", "web-1"),
        Some("arn:aws:iam::210987654321:role/puller"),
    );
    let out = sb.run(["kubelet"], &request);
    assert!(out.status.success(), "{}", describe(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["auth"][host().as_str()]["password"],
        private_password("210987654321")
    );
    // Without it, the STS call is not trusted: said so, with the settings, not "no credentials".
    sb.env_remove("AWS_CA_BUNDLE");
    let out = sb.run(["kubelet"], &request);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot reach the AWS credential provider's endpoint (STS or SSO): invalid peer certificate: UnknownIssuer")
            && err.contains("set AWS_CA_BUNDLE or ca_bundle in the AWS profile"),
        "{err}"
    );
}
