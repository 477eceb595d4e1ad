//! Kind defaults on debian-bookworm beyond what the examples cover: the
//! ruby kind's deployment mode from the app's own `vendor/cache`, without a
//! network. Shares the examples' BALE_HOME (see `examples.rs`); needs root
//! (a failure under CI=true without it).

use crate::examples::{bale, bookworm};

use std::path::Path;
use std::time::Duration;

/// Writes `text` at `rel` under `root`, creating parents.
fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// An app using one gem that is no Debian package: `before` builds its
/// `.gem` into `vendor/cache`, as `bundle cache` would have committed it.
const VENDORED_RUBY_APP: &str = r#"[package]
group = "org.example"
name = "ruby-vendored"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "ruby"

[dependencies]
# The packages of examples/ruby-hello, so the two share a dependency layer.
runtime = ["ruby-webrick"]

[build]
before = ["cd greeter && gem build greeter.gemspec && mkdir -p ../vendor/cache && mv greeter-0.1.0.gem ../vendor/cache/"]
destinations = ["hello.rb", "Gemfile", "Gemfile.lock", ".bundle", "vendor/bundle"]

[test]
commands = [
  "cd app && test \"$(ruby hello.rb)\" = 'Hello, bale! (from vendor/bundle)'",
  "test ! -e app/vendor/bundle/ruby/3.1.0/cache/greeter-0.1.0.gem",
]
"#;

#[test]
fn ruby_gems_from_vendor_cache_install_in_deployment_mode_without_a_network() {
    if bookworm().is_none() {
        return;
    }
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src = work.path().join("src");
    write(&src, "bale.toml", VENDORED_RUBY_APP);
    write(
        &src,
        "greeter/greeter.gemspec",
        "Gem::Specification.new do |s|\n  s.name = \"greeter\"\n  s.version = \"0.1.0\"\n  s.summary = \"Says hello\"\n  s.authors = [\"Example\"]\n  s.license = \"MIT\"\n  s.files = [\"lib/greeter.rb\"]\nend\n",
    );
    write(
        &src,
        "greeter/lib/greeter.rb",
        "module Greeter\n  def self.hello(name) = \"Hello, #{name}!\"\nend\n",
    );
    write(
        &src,
        "Gemfile",
        "source \"https://rubygems.org\"\ngem \"greeter\", \"0.1.0\"\n",
    );
    write(
        &src,
        "Gemfile.lock",
        "GEM\n  remote: https://rubygems.org/\n  specs:\n    greeter (0.1.0)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  greeter (= 0.1.0)\n\nBUNDLED WITH\n   2.3.15\n",
    );
    write(
        &src,
        "hello.rb",
        "require \"bundler/setup\"\nrequire \"greeter\"\nwhere = $LOADED_FEATURES.any? { |f| f.include?(\"/vendor/bundle/\") && f.end_with?(\"/greeter.rb\") }\nputs \"#{Greeter.hello(\"bale\")} (from #{where ? \"vendor/bundle\" : \"elsewhere\"})\"\n",
    );

    let out = work.path().join("out");
    let run = bale()
        .arg("build")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .timeout(Duration::from_secs(1800))
        .output()
        .expect("run bale");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the build failed:\n{stderr}");
    let facts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("ruby-vendored-1.0.0.build.json")).expect("build.json"),
    )
    .expect("json");
    assert_eq!(
        facts["tests"], 2,
        "the gem loaded from vendor/bundle, its .gem removed"
    );
}
