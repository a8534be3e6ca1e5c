//! `performance.writer_priority`: the aligners may run below the writer; only timing changes,
//! never an output, and the summary says what was done.

mod common;

use common::*;

#[test]
fn outputs_identical_at_any_priority_and_the_summary_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let input = families(&Families {
        families: 120,
        members: 5,
        divergence: 0.08,
        seed: 5,
        protein: true,
        ..Default::default()
    });
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let mut reference = None;
    for (setting, threads, says) in [
        ("false", "2", "priority: all threads equal (off)"),
        (
            "true",
            "1",
            "priority: aligners at nice +10, the writer first (on)",
        ),
        (
            "true",
            "3",
            "priority: aligners at nice +10, the writer first (on)",
        ),
        ("auto", "2", "and the writer on"),
    ] {
        let sub = dir.path().join(format!("{setting}-{threads}"));
        std::fs::create_dir(&sub).unwrap();
        let out = ok(talaria()
            .args(["reduce", "-i"])
            .arg(&path)
            .arg("-o")
            .arg(sub.join("o.fa"))
            .arg("-m")
            .arg(sub.join("o.dl"))
            .args([
                "--writer-priority",
                setting,
                "-j",
                threads,
                "--chunk-size",
                "7",
            ]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{setting} -j {threads}:\n{stderr}");
        let got = (
            std::fs::read(sub.join("o.fa")).unwrap(),
            std::fs::read(sub.join("o.dl")).unwrap(),
        );
        match &reference {
            None => reference = Some(got),
            Some(r) => assert!(&got == r, "{setting} -j {threads} differs"),
        }
    }
}

#[test]
fn writer_priority_is_a_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(
        &path,
        ">a\nMKVLAAGIVALLLAAGCSSHH\n>b\nMKVLAAGIVALLLAAGCSSHA\n",
    )
    .unwrap();
    let config = dir.path().join("t.toml");
    let reduce_with = |toml: &str, out: &str| {
        std::fs::write(&config, toml).unwrap();
        run(talaria()
            .args(["reduce", "-i"])
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join(out))
            .arg("--config")
            .arg(&config))
    };
    let out = reduce_with("[performance]\nwriter_priority = false\n", "o.fa");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("priority: all threads equal (off)"),
        "{stderr}"
    );
    let out = reduce_with("[performance]\nwriter_priority = \"high\"\n", "p.fa");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("performance.writer_priority"), "{stderr}");
}
