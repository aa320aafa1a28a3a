//! Which crate renders the formulas of real math pages as MathML: every formula of FILE (one
//! per line: the `$…$`, `$$…$$`, `\(…\)` and `\[…\]` spans of extracted page texts, see
//! README.md) goes through both, and the table gives the share converted without an error and
//! the time per formula (best of 5 passes).
//!
//! Usage: cargo run --release -- FILE

use std::time::Instant;

fn pulldown(f: &str, out: &mut String) -> bool {
    let storage = pulldown_latex::Storage::new();
    let ok = pulldown_latex::Parser::new(f, &storage).all(|e| e.is_ok());
    let storage = pulldown_latex::Storage::new();
    out.clear();
    ok && pulldown_latex::push_mathml(out, pulldown_latex::Parser::new(f, &storage), Default::default()).is_ok()
}

/// latex2mathml reports some errors as `Err` and renders others into its output as
/// `[PARSE ERROR: …]` text (an undefined command): both are failures.
fn latex2mathml(f: &str, out: &mut String) -> bool {
    match latex2mathml::latex_to_mathml(f, latex2mathml::DisplayStyle::Inline) {
        Ok(m) => {
            *out = m;
            !out.contains("[PARSE ERROR")
        }
        Err(_) => false,
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: latex-choice FORMULAS_FILE");
    let text = std::fs::read_to_string(&path).expect("readable formulas file");
    let formulas: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    println!("{} formulas from {path}\n", formulas.len());
    if std::env::var_os("SHOW_OUTPUT").is_some() {
        let mut out = String::new();
        for f in &formulas {
            eprintln!("{f}\n  latex2mathml: {}", if latex2mathml(f, &mut out) { out.clone() } else { "error".into() });
            eprintln!("  pulldown-latex: {}", if pulldown(f, &mut out) { out.clone() } else { "error".into() });
        }
    }
    println!("| crate | converted | failed | µs per formula |");
    println!("|---|---|---|---|");
    type Render = fn(&str, &mut String) -> bool;
    for (name, render) in [("pulldown-latex 0.8", pulldown as Render), ("latex2mathml 0.2", latex2mathml as Render)] {
        let mut out = String::new();
        let ok = formulas.iter().filter(|f| render(f, &mut out)).count();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for f in &formulas {
                std::hint::black_box(render(f, &mut out));
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("| {name} | {:.1}% ({ok}) | {} | {:.1} |", 100.0 * ok as f64 / formulas.len() as f64, formulas.len() - ok, 1e6 * best / formulas.len() as f64);
        if std::env::var_os("SHOW_FAILURES").is_some() {
            let mut seen = std::collections::BTreeSet::new();
            for f in formulas.iter().filter(|f| !render(f, &mut out)) {
                if seen.insert(*f) && seen.len() <= 12 {
                    eprintln!("  {name} fails: {f}");
                }
            }
        }
    }
}
