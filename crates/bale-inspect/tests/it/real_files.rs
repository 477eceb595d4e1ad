//! Facts about real files built here with gcc and ar.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use bale_inspect::{
    classify, elf_facts, inspect_file, FileClass, FileFacts, InspectError, Linkage,
};

const MAIN_C: &str = "#include <math.h>\n#include <stdio.h>\n\
    int main(int argc, char **argv) { printf(\"%f\\n\", cos((double)argc)); return 0; }\n";
const FOO_C: &str = "#include <math.h>\ndouble foo(double x) { return cos(x) + sin(x); }\n";

/// Runs a tool in `dir`, failing the test with its stderr if it fails.
fn run(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (apt-get install gcc binutils): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A temporary directory holding `main.c` and `foo.c`.
fn sources() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("main.c"), MAIN_C).unwrap();
    fs::write(dir.path().join("foo.c"), FOO_C).unwrap();
    dir
}

/// Builds `out` from `main.c` with extra gcc flags and returns its path.
fn build_main(dir: &Path, out: &str, flags: &[&str]) -> PathBuf {
    let mut args = flags.to_vec();
    args.extend(["-o", out, "main.c", "-lm"]);
    run(dir, "gcc", &args);
    dir.join(out)
}

fn inspect(path: &Path, rel_path: &str) -> FileFacts {
    inspect_file(path, rel_path).unwrap()
}

#[test]
fn dynamic_executable_has_interpreter_and_needed_libraries_in_order() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &[]);
    let facts = inspect(&exe, "bin/hello");
    assert_eq!(facts.class, FileClass::ElfExecutable);
    let elf = facts.elf.unwrap();
    assert_eq!(elf.linkage, Linkage::Dynamic);
    let interp = elf.interp.unwrap();
    assert!(
        interp.starts_with('/') && interp.contains("ld-"),
        "interp {interp}"
    );
    assert_eq!(elf.needed, ["libm.so.6", "libc.so.6"]);
    assert_eq!(elf.soname, None);
}

#[test]
fn non_pie_dynamic_executable_is_dynamic() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &["-no-pie"]);
    let facts = inspect(&exe, "bin/hello");
    assert_eq!(facts.class, FileClass::ElfExecutable);
    assert_eq!(facts.elf.unwrap().linkage, Linkage::Dynamic);
}

#[test]
fn static_executable_is_static_without_interpreter_or_needed() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &["-static"]);
    let facts = inspect(&exe, "bin/hello");
    assert_eq!(facts.class, FileClass::ElfExecutable);
    let elf = facts.elf.unwrap();
    assert_eq!(elf.linkage, Linkage::Static);
    assert_eq!(elf.interp, None);
    assert!(elf.needed.is_empty());
    assert_eq!(elf.soname, None);
}

#[test]
fn static_pie_executable_is_an_executable_not_a_library() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &["-static-pie"]);
    let facts = inspect(&exe, "bin/hello");
    assert_eq!(facts.class, FileClass::ElfExecutable);
    let elf = facts.elf.unwrap();
    assert_eq!(elf.linkage, Linkage::StaticPie);
    assert_eq!(elf.interp, None);
    assert!(elf.needed.is_empty());
    assert_eq!(elf.soname, None);
}

#[test]
fn shared_library_has_soname_and_needs_libm() {
    let dir = sources();
    run(
        dir.path(),
        "gcc",
        &[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libfoo.so.1",
            "-o",
            "libfoo.so.1",
            "foo.c",
            "-lm",
        ],
    );
    let facts = inspect(&dir.path().join("libfoo.so.1"), "lib/libfoo.so.1");
    assert_eq!(facts.class, FileClass::SharedLibrary);
    let elf = facts.elf.unwrap();
    assert_eq!(elf.linkage, Linkage::Dynamic);
    assert_eq!(elf.interp, None);
    assert_eq!(elf.needed, ["libm.so.6"]);
    assert_eq!(elf.soname.as_deref(), Some("libfoo.so.1"));
}

#[test]
fn shared_library_without_soname_is_still_a_library() {
    let dir = sources();
    run(
        dir.path(),
        "gcc",
        &["-shared", "-fPIC", "-o", "libfoo.so", "foo.c", "-lm"],
    );
    let facts = inspect(&dir.path().join("libfoo.so"), "lib/libfoo.so");
    assert_eq!(facts.class, FileClass::SharedLibrary);
    assert_eq!(facts.elf.unwrap().soname, None);
}

#[test]
fn glibc_is_a_library_although_it_has_an_interpreter_and_entry_point() {
    let output = Command::new("gcc")
        .arg("-print-file-name=libc.so.6")
        .output()
        .unwrap();
    let libc = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let libc = fs::canonicalize(&libc).unwrap_or_else(|e| panic!("no libc.so.6 at {libc:?}: {e}"));
    let facts = inspect(&libc, "lib/libc.so.6");
    assert_eq!(facts.class, FileClass::SharedLibrary);
    let elf = facts.elf.unwrap();
    assert!(
        elf.interp.is_some(),
        "glibc's libc.so.6 carries a PT_INTERP"
    );
    assert_eq!(elf.soname.as_deref(), Some("libc.so.6"));
}

#[test]
fn static_archive_is_a_static_library_without_elf_facts() {
    let dir = sources();
    run(dir.path(), "gcc", &["-c", "-fPIC", "-o", "foo.o", "foo.c"]);
    run(dir.path(), "ar", &["rcs", "libfoo.a", "foo.o"]);
    let facts = inspect(&dir.path().join("libfoo.a"), "lib/libfoo.a");
    assert_eq!(
        facts,
        FileFacts {
            class: FileClass::StaticLibrary,
            elf: None
        }
    );
}

#[test]
fn relocatable_object_is_data_without_elf_facts() {
    let dir = sources();
    run(dir.path(), "gcc", &["-c", "-o", "foo.o", "foo.c"]);
    let facts = inspect(&dir.path().join("foo.o"), "lib/foo.o");
    assert_eq!(
        facts,
        FileFacts {
            class: FileClass::Data,
            elf: None
        }
    );
}

#[test]
fn script_config_and_data_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run");
    fs::write(&script, "#!/bin/sh\necho hello\n").unwrap();
    let config = dir.path().join("hello.conf");
    fs::write(&config, "greeting = hello\n").unwrap();
    let data = dir.path().join("logo.txt");
    fs::write(&data, "hello\n").unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, "").unwrap();

    assert_eq!(
        inspect(&script, "bin/run"),
        FileFacts {
            class: FileClass::Script,
            elf: None
        }
    );
    assert_eq!(
        inspect(&config, "etc/hello.conf"),
        FileFacts {
            class: FileClass::Config,
            elf: None
        }
    );
    assert_eq!(
        inspect(&data, "share/logo.txt"),
        FileFacts {
            class: FileClass::Data,
            elf: None
        }
    );
    assert_eq!(
        inspect(&empty, "share/empty"),
        FileFacts {
            class: FileClass::Data,
            elf: None
        }
    );
}

#[test]
fn script_under_etc_is_config() {
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("hook");
    fs::write(&hook, "#!/bin/sh\n").unwrap();
    assert_eq!(
        inspect(&hook, "etc/hook"),
        FileFacts {
            class: FileClass::Config,
            elf: None
        }
    );
}

#[test]
fn executable_under_etc_is_config_but_keeps_its_elf_facts() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &[]);
    let facts = inspect(&exe, "etc/hello");
    assert_eq!(facts.class, FileClass::Config);
    assert_eq!(facts.elf.unwrap().needed, ["libm.so.6", "libc.so.6"]);
}

#[test]
fn truncated_elf_is_data_and_never_panics() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &[]);
    let bytes = fs::read(&exe).unwrap();
    for len in [4, 5, 20, 64, 100, 200, bytes.len() / 2, bytes.len() - 1] {
        let cut = dir.path().join(format!("cut-{len}"));
        fs::write(&cut, &bytes[..len]).unwrap();
        let facts = inspect(&cut, "bin/cut");
        assert_eq!(
            facts,
            FileFacts {
                class: FileClass::Data,
                elf: None
            },
            "cut at {len}"
        );
        assert!(
            matches!(
                elf_facts(&bytes[..len]),
                Err(InspectError::MalformedElf { .. })
            ),
            "cut at {len}"
        );
    }
}

#[test]
fn elf_magic_followed_by_garbage_is_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let path = dir.path().join("garbage");
    fs::write(&path, &bytes).unwrap();
    assert_eq!(
        inspect(&path, "bin/garbage"),
        FileFacts {
            class: FileClass::Data,
            elf: None
        }
    );
}

#[test]
fn elf_facts_of_non_elf_bytes_is_none() {
    assert_eq!(elf_facts(b"#!/bin/sh\n").unwrap(), None);
    assert_eq!(elf_facts(b"").unwrap(), None);
}

#[test]
fn classify_from_the_head_of_an_elf_file_uses_its_headers() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &[]);
    run(
        dir.path(),
        "gcc",
        &["-shared", "-fPIC", "-o", "libfoo.so", "foo.c", "-lm"],
    );
    let exe_head = &fs::read(&exe).unwrap()[..1024];
    let lib = fs::read(dir.path().join("libfoo.so")).unwrap();
    assert_eq!(classify("bin/hello", exe_head), FileClass::ElfExecutable);
    assert_eq!(
        classify("lib/libfoo.so", &lib[..1024]),
        FileClass::SharedLibrary
    );
    assert_eq!(classify("lib/libfoo.so", &lib), FileClass::SharedLibrary);
}

#[test]
fn facts_serialize_with_index_json_names() {
    let dir = sources();
    let exe = build_main(dir.path(), "hello", &["-static-pie"]);
    let json = serde_json::to_value(inspect(&exe, "bin/hello")).unwrap();
    assert_eq!(json["class"], "elf-executable");
    assert_eq!(json["elf"]["linkage"], "static-pie");
    assert_eq!(json["elf"]["interp"], serde_json::Value::Null);
}

#[test]
fn unreadable_path_is_a_read_error_naming_the_file() {
    let error = inspect_file(Path::new("/nonexistent/bale/file"), "bin/file").unwrap_err();
    assert!(matches!(error, InspectError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/bale/file"));
}
