//! A page's extracted text as HTML with its formulas as MathML, rendered on the server by
//! `pulldown-latex` (Chromium and Firefox render MathML natively). Chosen by measurement
//! (`bench/latex-choice`): of the 7,187 formulas of the minicrawl's math pages it converts 94.8%
//! without an error, latex2mathml 80.8% (it renders undefined commands as error text), at about
//! 2 µs per formula. A formula that does not parse is shown as its LaTeX source.

use maud::{html, Markup, PreEscaped};

/// One piece of a text: prose, or a formula (its LaTeX and whether it is display math).
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Prose(&'a str),
    Math(&'a str, bool),
}

/// Splits `text` at `$$…$$`, `\[…\]` (display) and `\(…\)`, `$…$` (inline), the delimiters the
/// extractor writes. An unclosed delimiter is prose.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut rest, mut prose_from) = (text, 0usize);
    let base = text.as_ptr() as usize;
    while let Some(i) = rest.find(['$', '\\']) {
        let at = &rest[i..];
        let (open, close, display) = if at.starts_with("$$") {
            ("$$", "$$", true)
        } else if at.starts_with("\\[") {
            ("\\[", "\\]", true)
        } else if at.starts_with("\\(") {
            ("\\(", "\\)", false)
        } else if at.starts_with('$') {
            ("$", "$", false)
        } else {
            rest = &at[1..];
            continue;
        };
        let body = &at[open.len()..];
        let end = if open == "$" { body.find(['$', '\n']).filter(|&e| body[e..].starts_with('$')) } else { body.find(close) };
        match end {
            Some(e) if e > 0 => {
                let start = at.as_ptr() as usize - base;
                if start > prose_from {
                    out.push(Piece::Prose(&text[prose_from..start]));
                }
                out.push(Piece::Math(&body[..e], display));
                rest = &body[e + close.len()..];
                prose_from = rest.as_ptr() as usize - base;
            }
            _ => rest = &at[open.len()..],
        }
    }
    if prose_from < text.len() {
        out.push(Piece::Prose(&text[prose_from..]));
    }
    out
}

/// MathML of `latex`, or `None` when it does not parse.
pub fn mathml(latex: &str, display: bool) -> Option<String> {
    let storage = pulldown_latex::Storage::new();
    if !pulldown_latex::Parser::new(latex, &storage).all(|e| e.is_ok()) {
        return None;
    }
    let storage = pulldown_latex::Storage::new();
    let mut config = pulldown_latex::RenderConfig::default();
    if display {
        config.display_mode = pulldown_latex::config::DisplayMode::Block;
    }
    let mut out = String::new();
    pulldown_latex::push_mathml(&mut out, pulldown_latex::Parser::new(latex, &storage), config).ok()?;
    Some(out)
}

/// `text` as HTML: prose escaped, formulas as MathML (their LaTeX in `<code>` where they do not
/// parse).
pub fn render(text: &str) -> Markup {
    html! {
        @for p in pieces(text) {
            @match p {
                Piece::Prose(s) => (s),
                Piece::Math(latex, display) => @match mathml(latex, display) {
                    Some(m) => (PreEscaped(m)),
                    None => code.latex { (latex) },
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_at_each_delimiter_and_keeps_unclosed_ones_as_prose() {
        assert_eq!(
            pieces("Let $x^2$ be \\(y\\), then $$\\frac{a}{b}$$ and \\[z\\]; costs $5 and more"),
            vec![Piece::Prose("Let "), Piece::Math("x^2", false), Piece::Prose(" be "), Piece::Math("y", false), Piece::Prose(", then "), Piece::Math("\\frac{a}{b}", true), Piece::Prose(" and "), Piece::Math("z", true), Piece::Prose("; costs $5 and more")]
        );
        assert_eq!(pieces("no math"), vec![Piece::Prose("no math")]);
    }

    #[test]
    fn formulas_become_mathml_prose_is_escaped_and_bad_latex_stays_source() {
        let html = render("<b>x</b> is $\\frac{1}{2}$ or ${n \\choose k}$").into_string();
        assert!(html.starts_with("&lt;b&gt;x&lt;/b&gt; is <math"), "{html}");
        assert!(html.contains("<mfrac>"), "{html}");
        assert!(html.contains("<code class=\"latex\">{n \\choose k}</code>"), "{html}");
        assert!(render("$$x$$").into_string().contains("display=\"block\""), "display math is a block");
    }
}
