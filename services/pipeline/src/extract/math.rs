//! Mathematics to LaTeX: TeX carried by the page (MathML `alttext`, `application/x-tex`
//! annotations, image `alt` text) and conversion of presentation MathML (W3C MathML 3, chapter 3)
//! to readable LaTeX when no TeX is carried.
//!
//! The conversion aims at text a language model can read, not at round-tripping: `mfrac` becomes
//! `\frac{a}{b}`, scripts become `^{}`/`_{}`, operators are mapped to TeX commands (`≠` -> `\neq`),
//! so `a≠0, b^2-4ac` never runs together the way a flattened `textContent` does.

use super::dom::{Dom, NodeData, NodeId};
use std::borrow::Cow;

/// Collapses whitespace runs to one space and trims; the form in which formulas are emitted and
/// compared.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Removes MediaWiki's `{\displaystyle ...}` / `{\textstyle ...}` wrapper around a whole formula.
pub fn strip_style_wrapper(tex: &str) -> &str {
    let t = tex.trim();
    for p in ["{\\displaystyle", "{\\textstyle", "{\\scriptstyle"] {
        if let Some(inner) = t.strip_prefix(p) {
            if let Some(inner) = inner.strip_suffix('}') {
                if braces_balanced(inner) {
                    return inner.trim();
                }
            }
        }
    }
    t
}

fn braces_balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut esc = false;
    for c in s.chars() {
        match c {
            '\\' if !esc => {
                esc = true;
                continue;
            }
            '{' if !esc => depth += 1,
            '}' if !esc => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        esc = false;
    }
    depth == 0
}

/// True when an image `alt` text looks like TeX source (a control word, or scripts/braces next
/// to letters), as WordPress `latex.php`, codecogs and MediaWiki fallback images carry it.
pub fn alt_looks_like_tex(alt: &str) -> bool {
    let a = alt.trim();
    if a.is_empty() || a.len() > 4000 {
        return false;
    }
    let b = a.as_bytes();
    b.windows(2).any(|w| w[0] == b'\\' && w[1].is_ascii_alphabetic())
        || (a.contains(['^', '_', '{']) && !a.contains("://") && !a.contains(' ') )
}

/// True when an `<img>` is a formula image by its `src`/`class` (TeX renderers' URLs).
pub fn img_is_formula(src: &str, class: &str) -> bool {
    class.split_ascii_whitespace().any(|c| c == "latex" || c == "tex" || c.starts_with("mwe-math") || c == "math" || c == "equation")
        || ["latex.php", "codecogs", "mimetex", "mathtex", "latex.cgi", "/latex?", "tex?", "/math/render/", "chart.apis.google.com/chart?cht=tx", "quicklatex", "forkosh", "latexrender"]
            .iter()
            .any(|p| src.contains(p))
}

/// The TeX of an `<img>` that shows a formula, or `None` for any other image.
///
/// A formula image is one whose `src`/`class` name a TeX renderer ([`img_is_formula`]), or any
/// image whose `alt` holds a control word and looks like TeX ([`alt_looks_like_tex`]). Its TeX
/// is the `alt` (MediaWiki's `{\displaystyle ..}` wrapper and `$`/`$$` delimiters removed) when
/// that is TeX: it looks like TeX, equals the URL's TeX up to whitespace, or the URL carries
/// none; otherwise (no `alt`, an empty one, or words such as "formula") the TeX in the URL
/// ([`tex_from_formula_url`]).
pub fn formula_img_tex<'a>(src: &str, class: &str, alt: &'a str) -> Option<Cow<'a, str>> {
    let alt = alt.trim();
    let formula_img = img_is_formula(src, class);
    let has_cmd = alt.as_bytes().windows(2).any(|w| w[0] == b'\\' && w[1].is_ascii_alphabetic());
    if !formula_img && !(has_cmd && alt_looks_like_tex(alt)) {
        return None;
    }
    let tex = strip_style_wrapper(alt);
    let tex = tex.strip_prefix("$$").and_then(|t| t.strip_suffix("$$")).or_else(|| tex.strip_prefix('$').and_then(|t| t.strip_suffix('$'))).unwrap_or(tex);
    if formula_img && (tex.is_empty() || !alt_looks_like_tex(tex)) {
        if let Some(url_tex) = tex_from_formula_url(src) {
            if collapse_ws(&url_tex) != collapse_ws(tex) {
                return Some(Cow::Owned(url_tex));
            }
        }
    }
    (!tex.is_empty()).then_some(Cow::Borrowed(tex))
}

/// The TeX source a formula image's URL carries, URL-decoded, for the renderers that take it in
/// the query string:
///
/// - WordPress `…/latex.php?latex=TEX&bg=..&fg=..&s=..` (`s0.wp.com`, `l.wordpress.com`, the
///   self-hosted plugin) and Google Chart `chart.googleapis.com/chart?cht=tx&chl=TEX` (also
///   `chart.apis.google.com`): one parameter of a form-encoded query (WHATWG URL
///   `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte);
/// - CodeCogs `latex.codecogs.com/{png,gif,svg,…}.latex?TEX` (and `….image?TEX`), mimeTeX
///   `mimetex.cgi?TEX` and mathTeX `mathtex.cgi?TEX`: the whole query is the TeX, percent-decoded
///   only (`+` stays a plus, as these renderers read it); the CodeCogs editor's `&space;` is a
///   space, and leading rendering options (`\dpi{150}`, `\bg_white`, `\bg{white}`, `\fg_..`,
///   `\fn_cm`, `\inline`, `\large` and the other size switches) are dropped.
///
/// `src` is the attribute value with character references already decoded (`&amp;` is `&`).
/// `None` for any other URL, or when the TeX is empty.
pub fn tex_from_formula_url(src: &str) -> Option<String> {
    let src = src.trim();
    let src = src.split_once('#').map_or(src, |(a, _)| a);
    let (base, query) = src.split_once('?')?;
    let base = base.to_ascii_lowercase();
    let tex = if base.ends_with("/latex.php") {
        form_param(query, "latex")?
    } else if base.ends_with("chart.googleapis.com/chart") || base.ends_with("chart.apis.google.com/chart") {
        if form_param(query, "cht").as_deref() != Some("tx") {
            return None;
        }
        form_param(query, "chl")?
    } else if (base.contains("codecogs.com/") && (base.ends_with(".latex") || base.ends_with(".image")))
        || base.ends_with("/mimetex.cgi")
        || base.ends_with("/mathtex.cgi")
    {
        let q = percent_decode(query, false);
        let q = q.replace("&space;", " ").replace("&plus;", "+");
        strip_render_options(&q).to_string()
    } else {
        return None;
    };
    let tex = tex.trim();
    (!tex.is_empty()).then(|| tex.to_string())
}

/// The first value of `key` in a form-encoded query (`a=1&b=2`), decoded (`+` a space).
fn form_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v, true))
    })
}

/// `%XX` to bytes (invalid escapes kept as they are), `+` to a space when `plus_is_space`; the
/// bytes read as UTF-8 (invalid sequences replaced).
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Drops CodeCogs' leading rendering options (`\dpi{N}`, `\bg_X`, `\bg{X}`, `\fg_X`, `\fg{X}`,
/// `\fn_X`, `\inline`, and the size switches `\tiny` … `\Huge`) from a formula.
fn strip_render_options(mut t: &str) -> &str {
    loop {
        t = t.trim_start();
        let Some(rest) = t.strip_prefix('\\') else { return t };
        let word_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (word, after) = rest.split_at(word_len);
        let next = match word {
            "dpi" | "bg" | "fg" | "fn" if after.starts_with('{') => after.find('}').map(|e| &after[e + 1..]),
            "bg" | "fg" | "fn" if after.starts_with('_') => {
                let a = &after[1..];
                Some(&a[a.bytes().take_while(|c| c.is_ascii_alphanumeric()).count()..])
            }
            "inline" | "tiny" | "scriptsize" | "footnotesize" | "small" | "normalsize" | "large" | "Large" | "LARGE" | "huge" | "Huge"
                if !after.starts_with(|c: char| c.is_ascii_alphabetic()) =>
            {
                Some(after)
            }
            _ => None,
        };
        match next {
            Some(n) => t = n,
            None => return t,
        }
    }
}

/// The TeX a `<math>` element carries (`alttext`, or a `application/x-tex` / `TeX` annotation),
/// wrapper-stripped and whitespace-collapsed.
pub fn carried_tex(dom: &Dom, math: NodeId) -> Option<String> {
    if let Some(a) = dom.attr(math, "alttext") {
        let t = collapse_ws(strip_style_wrapper(a));
        if !t.is_empty() {
            return Some(t);
        }
    }
    let ann = find_tex_annotation(dom, math)?;
    let t = collapse_ws(strip_style_wrapper(&dom.text_content(ann)));
    (!t.is_empty()).then_some(t)
}

/// First `<annotation encoding="application/x-tex">` (or `TeX`, `text/x-latex`) under `id`.
pub fn find_tex_annotation(dom: &Dom, id: NodeId) -> Option<NodeId> {
    if dom.name(id) == "annotation" && dom.attr(id, "encoding").is_some_and(is_tex_encoding) {
        return Some(id);
    }
    dom.children(id).iter().find_map(|&c| find_tex_annotation(dom, c))
}

/// True for annotation encodings that mean TeX: `application/x-tex`, `TeX`, `LaTeX`,
/// `text/x-latex`, ...
pub fn is_tex_encoding(enc: &str) -> bool {
    let e = enc.trim().to_ascii_lowercase();
    e.contains("x-tex") || e == "tex" || e.contains("latex")
}

/// Converts presentation MathML rooted at `math` to LaTeX (whitespace-collapsed).
pub fn mathml_to_tex(dom: &Dom, math: NodeId) -> String {
    let mut out = String::new();
    conv_children(dom, math, &mut out);
    collapse_ws(&out)
}

fn elem_children(dom: &Dom, id: NodeId) -> Vec<NodeId> {
    dom.children(id)
        .iter()
        .copied()
        .filter(|&c| matches!(dom.nodes[c].data, NodeData::Element { .. }))
        .collect()
}

fn conv_children(dom: &Dom, id: NodeId, out: &mut String) {
    for c in elem_children(dom, id) {
        conv(dom, c, out);
    }
}

fn group(dom: &Dom, id: Option<NodeId>) -> String {
    let mut s = String::new();
    if let Some(id) = id {
        conv(dom, id, &mut s);
    }
    collapse_ws(&s)
}

/// Appends `piece`, inserting a space when a control word would otherwise swallow a letter.
fn push_piece(out: &mut String, piece: &str) {
    if piece.is_empty() {
        return;
    }
    let ends_cmd = {
        let tail: String = out.chars().rev().take_while(|c| c.is_ascii_alphabetic()).collect();
        !tail.is_empty() && out[..out.len() - tail.len()].ends_with('\\')
    };
    if ends_cmd && piece.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.push(' ');
    }
    out.push_str(piece);
}

fn conv(dom: &Dom, id: NodeId, out: &mut String) {
    let name = dom.name(id);
    let kids = || elem_children(dom, id);
    match name {
        "mi" | "mn" | "mo" | "ms" => {
            let t = dom.text_content(id);
            let t = t.trim();
            let mapped = map_token(t, name);
            if name == "mo" && !mapped.is_empty() && mapped.starts_with('\\') {
                push_piece(out, &mapped);
                out.push(' ');
            } else {
                push_piece(out, &mapped);
            }
        }
        "mtext" => {
            let t = collapse_ws(&dom.text_content(id));
            if t.is_empty() {
                out.push(' ');
            } else {
                push_piece(out, &format!("\\text{{{t}}}"));
            }
        }
        "mspace" => out.push(' '),
        "mfrac" => {
            let k = kids();
            let a = group(dom, k.first().copied());
            let b = group(dom, k.get(1).copied());
            if dom.attr(id, "linethickness").is_some_and(|v| v.trim_start_matches('0').is_empty() || v == "0px") {
                push_piece(out, &format!("\\binom{{{a}}}{{{b}}}"));
            } else {
                push_piece(out, &format!("\\frac{{{a}}}{{{b}}}"));
            }
        }
        "msup" | "msub" | "msubsup" | "munder" | "mover" | "munderover" => {
            let k = kids();
            let base = group(dom, k.first().copied());
            let s1 = group(dom, k.get(1).copied());
            let s2 = group(dom, k.get(2).copied());
            let base_b = brace_if_needed(&base);
            let piece = match name {
                "msup" => format!("{base_b}^{{{s1}}}"),
                "msub" => format!("{base_b}_{{{s1}}}"),
                "msubsup" | "munderover" => format!("{base_b}_{{{s1}}}^{{{s2}}}"),
                "mover" => match accent_cmd(&s1) {
                    Some(cmd) => format!("{cmd}{{{base}}}"),
                    None if is_big_op(&base) => format!("{base}^{{{s1}}}"),
                    None => format!("\\overset{{{s1}}}{{{base}}}"),
                },
                _ => match s1.as_str() {
                    "_" | "\u{332}" | "\u{AF}" => format!("\\underline{{{base}}}"),
                    "\\underbrace" | "⏟" => format!("\\underbrace{{{base}}}"),
                    _ if is_big_op(&base) => format!("{base}_{{{s1}}}"),
                    _ => format!("\\underset{{{s1}}}{{{base}}}"),
                },
            };
            push_piece(out, &piece);
        }
        "msqrt" => {
            let mut inner = String::new();
            conv_children(dom, id, &mut inner);
            push_piece(out, &format!("\\sqrt{{{}}}", collapse_ws(&inner)));
        }
        "mroot" => {
            let k = kids();
            let base = group(dom, k.first().copied());
            let idx = group(dom, k.get(1).copied());
            push_piece(out, &format!("\\sqrt[{idx}]{{{base}}}"));
        }
        "mfenced" => {
            let open = dom.attr(id, "open").unwrap_or("(");
            let close = dom.attr(id, "close").unwrap_or(")");
            let seps: Vec<char> = dom.attr(id, "separators").unwrap_or(",").chars().filter(|c| !c.is_whitespace()).collect();
            push_piece(out, &fence(open, true));
            for (i, c) in kids().into_iter().enumerate() {
                if i > 0 {
                    if let Some(s) = seps.get(i - 1).or(seps.last()) {
                        out.push(*s);
                    }
                }
                conv(dom, c, out);
            }
            push_piece(out, &fence(close, false));
        }
        "mtable" => {
            let rows: Vec<String> = kids()
                .into_iter()
                .filter(|&r| matches!(dom.name(r), "mtr" | "mlabeledtr"))
                .map(|r| {
                    let mut cells = elem_children(dom, r);
                    if dom.name(r) == "mlabeledtr" && !cells.is_empty() {
                        cells.remove(0);
                    }
                    cells.iter().map(|&c| group(dom, Some(c))).collect::<Vec<_>>().join(" & ")
                })
                .collect();
            push_piece(out, &format!("\\begin{{matrix}} {} \\end{{matrix}}", rows.join(" \\\\ ")));
        }
        "semantics" => {
            if let Some(&first) = kids().first() {
                conv(dom, first, out);
            }
        }
        "annotation" | "annotation-xml" | "mphantom" | "none" | "mprescripts" | "maligngroup" | "malignmark" => {}
        "menclose" => {
            let mut inner = String::new();
            conv_children(dom, id, &mut inner);
            let inner = collapse_ws(&inner);
            if dom.attr(id, "notation").is_some_and(|n| n.contains("box")) {
                push_piece(out, &format!("\\boxed{{{inner}}}"));
            } else {
                push_piece(out, &inner);
            }
        }
        "mmultiscripts" => {
            let k = kids();
            let base = group(dom, k.first().copied());
            let mut piece = brace_if_needed(&base);
            let mut i = 1;
            while i + 1 < k.len() && dom.name(k[i]) != "mprescripts" {
                let sub = group(dom, Some(k[i]));
                let sup = group(dom, Some(k[i + 1]));
                if !sub.is_empty() {
                    piece.push_str(&format!("_{{{sub}}}"));
                }
                if !sup.is_empty() {
                    piece.push_str(&format!("^{{{sup}}}"));
                }
                i += 2;
            }
            push_piece(out, &piece);
        }
        _ => {
            // math, mrow, mstyle, mpadded, merror, mtd, unknown: their children in order
            if dom.children(id).iter().all(|&c| !matches!(dom.nodes[c].data, NodeData::Element { .. })) {
                let t = collapse_ws(&dom.text_content(id));
                let mapped: String = t.chars().map(|c| map_char(c).map_or(c.to_string(), |m| format!("{m} "))).collect();
                push_piece(out, mapped.trim_end());
            } else {
                conv_children(dom, id, out);
            }
        }
    }
}

fn brace_if_needed(base: &str) -> String {
    let simple = base.chars().count() == 1
        || (base.starts_with('\\') && base[1..].chars().all(|c| c.is_ascii_alphabetic()))
        || (base.starts_with('{') && base.ends_with('}') && braces_balanced(&base[1..base.len() - 1]));
    if simple || base.is_empty() {
        base.to_string()
    } else {
        format!("{{{base}}}")
    }
}

fn is_big_op(base: &str) -> bool {
    matches!(
        base,
        "\\sum" | "\\prod" | "\\coprod" | "\\int" | "\\oint" | "\\bigcup" | "\\bigcap" | "\\lim" | "\\max" | "\\min" | "\\sup" | "\\inf"
            | "\\limsup" | "\\liminf" | "\\bigoplus" | "\\bigotimes" | "\\bigvee" | "\\bigwedge" | "\\det" | "\\arg\\max" | "\\arg\\min"
    )
}

fn accent_cmd(s: &str) -> Option<&'static str> {
    Some(match s {
        "^" | "\u{302}" | "ˆ" => "\\hat",
        "¯" | "\u{304}" | "\u{305}" | "‾" | "-" | "_" => "\\overline",
        "\\to" | "→" | "\u{20D7}" => "\\vec",
        "~" | "\\sim" | "˜" | "\u{303}" => "\\tilde",
        "˙" | "\u{307}" | "." | "\\cdot" => "\\dot",
        "¨" | "\u{308}" | ".." => "\\ddot",
        "ˇ" | "\u{30C}" => "\\check",
        "⏞" => "\\overbrace",
        _ => return None,
    })
}

fn fence(f: &str, open: bool) -> String {
    match f {
        "{" => "\\{".into(),
        "}" => "\\}".into(),
        "⟨" | "〈" => "\\langle ".into(),
        "⟩" | "〉" => "\\rangle ".into(),
        "‖" => "\\|".into(),
        "⌈" => "\\lceil ".into(),
        "⌉" => "\\rceil ".into(),
        "⌊" => "\\lfloor ".into(),
        "⌋" => "\\rfloor ".into(),
        "" => String::new(),
        _ => {
            let _ = open;
            f.to_string()
        }
    }
}

const FUNCTIONS: &[&str] = &[
    "sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "arcsin", "arccos", "arctan", "log", "ln", "lg", "exp",
    "lim", "limsup", "liminf", "max", "min", "sup", "inf", "det", "dim", "ker", "deg", "gcd", "arg", "hom", "Pr", "mod",
];

fn map_token(t: &str, kind: &str) -> String {
    if t.is_empty() {
        return String::new();
    }
    if kind == "mi" && t.chars().count() > 1 {
        if FUNCTIONS.contains(&t) {
            return format!("\\{t}");
        }
        if t.chars().all(|c| c.is_alphabetic()) {
            return format!("\\mathrm{{{t}}}");
        }
    }
    if kind == "mo" {
        match t {
            "{" => return "\\{".into(),
            "}" => return "\\}".into(),
            _ => {}
        }
        if FUNCTIONS.contains(&t) {
            return format!("\\{t}");
        }
    }
    let mut s = String::new();
    for c in t.chars() {
        match map_char(c) {
            Some(m) => push_piece(&mut s, m),
            None => push_piece(&mut s, c.encode_utf8(&mut [0; 4])),
        }
    }
    s
}

/// TeX for a single Unicode character used in MathML token elements; `None` keeps the character.
pub fn map_char(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2061}' | '\u{2062}' | '\u{2063}' | '\u{2064}' | '\u{200B}' => "",
        '−' => "-",
        '≠' => "\\neq",
        '≤' | '⩽' => "\\leq",
        '≥' | '⩾' => "\\geq",
        '≪' => "\\ll",
        '≫' => "\\gg",
        '∑' => "\\sum",
        '∏' => "\\prod",
        '∐' => "\\coprod",
        '∫' => "\\int",
        '∬' => "\\iint",
        '∮' => "\\oint",
        '∂' => "\\partial",
        '∞' => "\\infty",
        '±' => "\\pm",
        '∓' => "\\mp",
        '×' => "\\times",
        '÷' => "\\div",
        '·' | '⋅' => "\\cdot",
        '∙' => "\\bullet",
        '∘' => "\\circ",
        '→' => "\\to",
        '←' => "\\leftarrow",
        '↔' => "\\leftrightarrow",
        '⇒' => "\\Rightarrow",
        '⇐' => "\\Leftarrow",
        '⇔' => "\\Leftrightarrow",
        '↦' => "\\mapsto",
        '⟶' => "\\longrightarrow",
        '⟹' => "\\implies",
        '∈' => "\\in",
        '∉' => "\\notin",
        '∋' => "\\ni",
        '⊂' => "\\subset",
        '⊃' => "\\supset",
        '⊆' => "\\subseteq",
        '⊇' => "\\supseteq",
        '⊊' => "\\subsetneq",
        '∪' => "\\cup",
        '∩' => "\\cap",
        '∖' => "\\setminus",
        '∀' => "\\forall",
        '∃' => "\\exists",
        '∄' => "\\nexists",
        '∇' => "\\nabla",
        '√' => "\\surd",
        '≈' => "\\approx",
        '≡' => "\\equiv",
        '≅' => "\\cong",
        '≃' => "\\simeq",
        '∼' => "\\sim",
        '∝' => "\\propto",
        '…' => "\\ldots",
        '⋯' => "\\cdots",
        '⋮' => "\\vdots",
        '⋱' => "\\ddots",
        '⊗' => "\\otimes",
        '⊕' => "\\oplus",
        '∧' => "\\wedge",
        '∨' => "\\vee",
        '¬' => "\\neg",
        '∅' => "\\emptyset",
        '⊥' => "\\perp",
        '∥' => "\\parallel",
        '∠' => "\\angle",
        '°' => "^\\circ",
        '′' => "'",
        '″' => "''",
        'ℝ' => "\\mathbb{R}",
        'ℕ' => "\\mathbb{N}",
        'ℤ' => "\\mathbb{Z}",
        'ℚ' => "\\mathbb{Q}",
        'ℂ' => "\\mathbb{C}",
        'ℓ' => "\\ell",
        'ℏ' => "\\hbar",
        '⟨' | '〈' => "\\langle",
        '⟩' | '〉' => "\\rangle",
        '‖' => "\\|",
        '⌈' => "\\lceil",
        '⌉' => "\\rceil",
        '⌊' => "\\lfloor",
        '⌋' => "\\rfloor",
        '⊢' => "\\vdash",
        '⊨' => "\\models",
        '†' => "\\dagger",
        '⋆' => "\\star",
        'α' => "\\alpha",
        'β' => "\\beta",
        'γ' => "\\gamma",
        'δ' => "\\delta",
        'ε' => "\\varepsilon",
        'ϵ' => "\\epsilon",
        'ζ' => "\\zeta",
        'η' => "\\eta",
        'θ' => "\\theta",
        'ϑ' => "\\vartheta",
        'ι' => "\\iota",
        'κ' => "\\kappa",
        'λ' => "\\lambda",
        'μ' => "\\mu",
        'ν' => "\\nu",
        'ξ' => "\\xi",
        'π' => "\\pi",
        'ϖ' => "\\varpi",
        'ρ' => "\\rho",
        'ϱ' => "\\varrho",
        'σ' => "\\sigma",
        'ς' => "\\varsigma",
        'τ' => "\\tau",
        'υ' => "\\upsilon",
        'φ' => "\\varphi",
        'ϕ' => "\\phi",
        'χ' => "\\chi",
        'ψ' => "\\psi",
        'ω' => "\\omega",
        'Γ' => "\\Gamma",
        'Δ' => "\\Delta",
        'Θ' => "\\Theta",
        'Λ' => "\\Lambda",
        'Ξ' => "\\Xi",
        'Π' => "\\Pi",
        'Σ' => "\\Sigma",
        'Υ' => "\\Upsilon",
        'Φ' => "\\Phi",
        'Ψ' => "\\Psi",
        'Ω' => "\\Omega",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv_str(html: &str) -> String {
        let d = Dom::parse(html);
        let m = d.find(0, "math").unwrap();
        mathml_to_tex(&d, m)
    }

    #[test]
    fn wrapper_and_alt() {
        assert_eq!(strip_style_wrapper("{\\displaystyle d_{Y}(f(y),f(x))<\\epsilon }"), "d_{Y}(f(y),f(x))<\\epsilon");
        assert_eq!(strip_style_wrapper("{a}+{b}"), "{a}+{b}");
        assert!(alt_looks_like_tex("\\kappa"));
        assert!(alt_looks_like_tex("2omega_0,"));
        assert!(!alt_looks_like_tex("A photo of a cat"));
    }

    #[test]
    fn tex_from_formula_urls() {
        let t = |u: &str| tex_from_formula_url(u);
        // WordPress: form-encoded, `+` a space, the other parameters ignored.
        assert_eq!(t("https://s0.wp.com/latex.php?latex=%5Clambda+A+%2B+%5Cmu+B&bg=ffffff&fg=000&s=0&c=20201002").as_deref(), Some("\\lambda A + \\mu B"));
        assert_eq!(t("http://l.wordpress.com/latex.php?bg=fff&latex=x%5E2").as_deref(), Some("x^2"));
        // Google Chart: only the TeX chart type.
        assert_eq!(t("https://chart.googleapis.com/chart?cht=tx&chl=%5Cfrac%7Ba%7D%7Bb%7D+c").as_deref(), Some("\\frac{a}{b} c"));
        assert_eq!(t("https://chart.googleapis.com/chart?cht=p3&chl=a|b"), None);
        // CodeCogs and mimeTeX: the whole query, `+` a plus, options dropped.
        assert_eq!(t("http://latex.codecogs.com/png.latex?\\dpi{120}&space;\\bg_white&space;a+b=c").as_deref(), Some("a+b=c"));
        assert_eq!(t("https://latex.codecogs.com/svg.image?\\inline&space;\\large&space;x_%7Bi%7D").as_deref(), Some("x_{i}"));
        assert_eq!(t("https://latex.codecogs.com/gif.latex?\\bg{white}\\largest").as_deref(), Some("\\largest"));
        assert_eq!(t("http://www.forkosh.com/mimetex.cgi?\\sqrt{2}+1").as_deref(), Some("\\sqrt{2}+1"));
        // Not a TeX renderer, no query, an empty formula, a bad escape.
        assert_eq!(t("https://example.com/image.png?w=300"), None);
        assert_eq!(t("https://s0.wp.com/latex.php"), None);
        assert_eq!(t("https://s0.wp.com/latex.php?latex=&bg=fff"), None);
        assert_eq!(t("https://s0.wp.com/latex.php?latex=100%25+%zz").as_deref(), Some("100% %zz"));
    }

    #[test]
    fn presentation_mathml_basics() {
        assert_eq!(
            conv_str("<math><mi>a</mi><mo>≠</mo><mn>0</mn><mo>,</mo><msup><mi>b</mi><mn>2</mn></msup><mo>−</mo><mn>4</mn><mi>a</mi><mi>c</mi></math>"),
            "a\\neq 0,b^{2}-4ac"
        );
        assert_eq!(
            conv_str("<math><mfrac><mrow><mo>−</mo><mi>b</mi></mrow><mrow><mn>2</mn><mi>a</mi></mrow></mfrac><msqrt><mi>x</mi></msqrt><mroot><mi>y</mi><mn>3</mn></mroot></math>"),
            "\\frac{-b}{2a}\\sqrt{x}\\sqrt[3]{y}"
        );
        assert_eq!(
            conv_str("<math><munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover><msub><mi>x</mi><mi>i</mi></msub><mover><mi>v</mi><mo>→</mo></mover></math>"),
            "\\sum_{i=1}^{n}x_{i}\\vec{v}"
        );
        assert_eq!(
            conv_str("<math><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>0</mn></mtd></mtr><mtr><mtd><mn>0</mn></mtd><mtd><mn>1</mn></mtd></mtr></mtable><mi>sin</mi><mi>α</mi><mi>x</mi></math>"),
            "\\begin{matrix} 1 & 0 \\\\ 0 & 1 \\end{matrix}\\sin\\alpha x"
        );
    }
}
