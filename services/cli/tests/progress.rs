//! Progress without a terminal: a run whose stderr goes to a pipe (a log file, a scheduler)
//! logs progress lines (the step, then shards, pages, pages/s) and draws no bar.

mod common;

use common::*;

#[test]
fn without_a_terminal_progress_goes_to_the_log_as_lines() {
    let Some(fx) = fixture() else { return };
    let out = fx.dir.join("out");
    let o = corpusminer_env(&with_store(&fx.run_args, &out, None), &[("RUST_LOG", "warn,corpusminer_cli=info")]);
    ok(&o, "run");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("progress: ")).collect();
    // The last line, logged when the iteration ends, says how scoring went.
    let scored = lines.iter().find(|l| l.contains("progress: scored: 2 of 2 shards done, ")).unwrap_or_else(|| panic!("no scored line in:\n{stderr}"));
    assert!(scored.contains(" pages, ") && scored.contains(" MB, ") && scored.contains(" pages/s"), "{scored}");
    assert!(scored.contains("iteration=1"), "{scored}");
    // Every progress line names a step the iteration goes through.
    for l in &lines {
        let step = l.split("progress: ").nth(1).unwrap();
        assert!(["preparing", "preparing_negatives", "training", "scoring", "scored", "selecting"].iter().any(|s| step.starts_with(s)), "{l}");
    }
    // No bar: nothing redrawn in place, no escape sequences.
    assert!(!stderr.contains('\r') && !stderr.contains('\u{1b}'), "{stderr}");
}
