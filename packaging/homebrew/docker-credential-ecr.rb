# Homebrew formula: builds docker-credential-ecr from source with cargo.
# On a release, set url to the tag's archive and sha256 to `shasum -a 256` of that archive.
class DockerCredentialEcr < Formula
  desc "Fast, cache-safe docker credential helper for Amazon ECR and ECR Public"
  homepage "https://github.com/docker-credential-ecr/docker-credential-ecr"
  url "https://github.com/docker-credential-ecr/docker-credential-ecr/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"
  head "https://github.com/docker-credential-ecr/docker-credential-ecr.git", branch: "main"

  depends_on "rust" => :build
  # Built and tested on Linux only: the front hands requests over with memfd_create and the
  # request bound reads /proc (src/platform.rs); a macOS port is one more platform file.
  depends_on :linux

  def install
    # Installs both of the crate's binaries into bin: docker-credential-ecr (the front clients
    # run) and docker-credential-ecr-engine, which the front runs from its own directory.
    system "cargo", "install", *std_cargo_args

    # The man page and completions come from the binary just built, so they match it.
    generate_completions_from_executable(bin/"docker-credential-ecr", "--generate",
                                         shells: [:bash, :zsh, :fish])
    (man1/"docker-credential-ecr.1").write Utils.safe_popen_read(bin/"docker-credential-ecr", "--generate", "man")
    # The engine's page is an alias of the program's, which documents both.
    (man1/"docker-credential-ecr-engine.1").write ".so man1/docker-credential-ecr.1\n"
  end

  def caveats
    <<~EOS
      Route your registries to the helper (docker, podman, skopeo and buildah read the result):
        docker-credential-ecr configure 123456789012.dkr.ecr.us-east-1.amazonaws.com public.ecr.aws
    EOS
  end

  test do
    %w[docker-credential-ecr docker-credential-ecr-engine].each do |b|
      assert_predicate bin/b, :executable?
    end
    # version is the engine's: the front finds it beside itself.
    assert_match version.to_s, shell_output("#{bin}/docker-credential-ecr version")
    assert_equal shell_output("#{bin}/docker-credential-ecr-engine version"),
                 shell_output("#{bin}/docker-credential-ecr version")
    # A registry that is not ECR gets the protocol's "not found", so clients go on anonymously.
    output = pipe_output("#{bin}/docker-credential-ecr get", "docker.io\n", 1)
    assert_equal "credentials not found in native keychain\n", output
    # configure edits a docker config in the test's sandbox HOME.
    ENV["DOCKER_CONFIG"] = testpath/"docker"
    system bin/"docker-credential-ecr", "configure", "public.ecr.aws"
    assert_match '"public.ecr.aws": "ecr"', (testpath/"docker/config.json").read
  end
end
