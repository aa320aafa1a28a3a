//! Rendering the chosen container to text with formulas as LaTeX (see the parent module doc).

use super::boilerplate::{self, Analysis, RUNNING_TEXT};
use super::dom::{Dom, NodeData, NodeId};
use super::math::{self, collapse_ws};

/// What [`render_page`] produces.
pub struct Page {
    pub text: String,
    pub title: Option<String>,
    pub formulas: usize,
}

/// Renders the main text of `dom`.
pub fn render_page(dom: &Dom) -> Page {
    let a = boilerplate::analyse(dom);
    let roots = boilerplate::choose_roots(dom, &a);
    let mut r = Renderer { dom, a: &a, out: Out::default(), container: roots.first().copied().unwrap_or(0) };
    for root in roots {
        r.node(root, false, false);
    }
    let title = dom.find(0, "title").map(|t| collapse_ws(&dom.text_content(t))).filter(|t| !t.is_empty());
    let formulas = r.out.formulas + r.out.text_formulas;
    Page { text: r.out.s, title, formulas }
}

#[derive(Default)]
struct Out {
    s: String,
    space: bool,
    brk: u8,
    formulas: usize,
    /// TeX-delimited formulas in the page's own text nodes that were rendered.
    text_formulas: usize,
    last_formula: Option<(String, usize)>,
}

impl Out {
    fn brk(&mut self, n: u8) {
        self.brk = self.brk.max(n);
    }

    fn lead(&mut self) {
        if !self.s.is_empty() {
            match self.brk {
                0 => {
                    if self.space {
                        self.s.push(' ');
                    }
                }
                1 => self.s.push('\n'),
                _ => self.s.push_str("\n\n"),
            }
        }
        self.brk = 0;
        self.space = false;
    }

    fn text(&mut self, t: &str) {
        let mut first = true;
        for w in t.split(|c: char| c.is_whitespace()) {
            if !first {
                self.space = true;
            }
            first = false;
            if !w.is_empty() {
                self.lead();
                self.s.push_str(w);
            }
        }
    }

    fn pre(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if self.s.is_empty() || self.brk > 0 || self.space {
            let t2 = t.trim_start_matches(['\n', '\r']);
            if t2.is_empty() {
                return;
            }
            self.lead();
            self.s.push_str(t2);
        } else {
            self.s.push_str(t);
        }
    }

    fn formula(&mut self, tex: &str, display: bool) {
        let tex = collapse_ws(tex);
        if tex.is_empty() || is_macro_only(&tex) {
            return;
        }
        if let Some((last, at)) = &self.last_formula {
            if *last == tex && *at == self.s.len() {
                return;
            }
        }
        if display {
            self.brk(1);
            self.lead();
            self.s.push_str("$$");
            self.s.push_str(&tex);
            self.s.push_str("$$");
            self.brk(1);
        } else {
            self.lead();
            self.s.push('$');
            self.s.push_str(&tex);
            self.s.push('$');
        }
        self.formulas += 1;
        self.last_formula = Some((tex, self.s.len()));
    }
}

/// MathJax configuration carried as formulas (`\\newcommand..`, Stack Exchange's
/// `\\begingroup`/`\\endgroup` wrappers): not content.
fn is_macro_only(tex: &str) -> bool {
    matches!(tex, "\\begingroup" | "\\endgroup")
        || ["\\newcommand", "\\renewcommand", "\\def\\", "\\DeclareMathOperator", "\\require{"].iter().any(|m| tex.starts_with(m))
}

/// Breaks around an element: 2 = paragraph (blank line), 1 = own line, 0 = inline.
fn break_of(name: &str) -> u8 {
    match name {
        "p" | "div" | "section" | "article" | "main" | "blockquote" | "pre" | "table" | "ul" | "ol" | "dl" | "h1" | "h2" | "h3" | "h4"
        | "h5" | "h6" | "figure" | "address" | "hr" | "details" | "center" | "fieldset" | "body" | "hgroup" => 2,
        "li" | "br" | "tr" | "dt" | "dd" | "caption" | "summary" | "legend" => 1,
        _ => 0,
    }
}

const MATHJAX_RENDER_CLASSES: &[&str] = &[
    "MathJax_Preview", "MathJax", "MathJax_Display", "MathJax_SVG", "MathJax_SVG_Display", "MathJax_CHTML", "MJX_Assistive_MathML",
    "MathJax_PHTML", "MathJax_MathML", "MathJax_SVG_Hidden", "MathJax_Hidden", "mjx-chtml", "MJXc-display", "mjx-math",
];

struct Renderer<'a> {
    dom: &'a Dom<'a>,
    a: &'a Analysis,
    out: Out,
    container: NodeId,
}

impl Renderer<'_> {
    fn children(&mut self, id: NodeId, pre: bool, math_only: bool) {
        for &c in self.dom.children(id) {
            self.node(c, pre, math_only);
        }
    }

    fn node(&mut self, id: NodeId, pre: bool, math_only: bool) {
        let dom = self.dom;
        if self.a.skip[id] && !boilerplate::is_tex_script(dom, id) {
            return;
        }
        let name = match &dom.nodes[id].data {
            NodeData::Text(t) => {
                if !math_only {
                    self.out.text_formulas += boilerplate::count_text_formulas(t) as usize;
                    if pre {
                        self.out.pre(t);
                    } else {
                        self.out.text(t);
                    }
                }
                return;
            }
            NodeData::Document => {
                self.children(id, pre, math_only);
                return;
            }
            NodeData::Element { name, .. } => &**name,
        };
        // Mathematics first: it survives hidden containers.
        match name {
            "script" => {
                if boilerplate::is_tex_script(dom, id) {
                    let display = dom.attr(id, "type").is_some_and(|t| t.contains("mode=display"));
                    self.out.formula(&dom.text_content(id), display);
                }
                return;
            }
            "math" => {
                let tex = math::carried_tex(dom, id).unwrap_or_else(|| math::mathml_to_tex(dom, id));
                let display = dom.attr(id, "display") == Some("block") || dom.attr(id, "mode") == Some("display") || self.in_display(id);
                self.out.formula(&tex, display);
                return;
            }
            "mjx-container" => {
                if let Some(m) = dom.find(id, "math") {
                    let display = dom.attr(id, "display") == Some("true") || dom.attr(m, "display") == Some("block");
                    let tex = math::carried_tex(dom, m).unwrap_or_else(|| math::mathml_to_tex(dom, m));
                    self.out.formula(&tex, display);
                }
                return;
            }
            "img" => {
                if !math_only {
                    self.img(id);
                }
                return;
            }
            _ => {}
        }
        if let Some(tex) = dom.attr(id, "data-tex") {
            let display = tex.trim_end().ends_with("\\\\");
            self.out.formula(tex.trim_end().trim_end_matches("\\\\"), display);
            return;
        }
        if let Some(class) = dom.attr(id, "class") {
            if class.split_ascii_whitespace().any(|c| c == "katex-html") {
                return;
            }
            if class.split_ascii_whitespace().any(|c| c == "katex-mathml") && dom.find(id, "math").is_none() {
                // MathML tags stripped by the site (CSDN): the annotation's TeX is the last text.
                let text = dom.text_content(id);
                if let Some(tex) = text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
                    let display = self.in_display(id);
                    self.out.formula(tex, display);
                }
                return;
            }
            if class.split_ascii_whitespace().any(|c| MATHJAX_RENDER_CLASSES.contains(&c)) {
                if !self.a.has_tex_scripts {
                    if let Some(m) = dom.find(id, "math") {
                        self.node(m, pre, math_only);
                    }
                }
                return;
            }
        }
        let math_only = math_only || self.a.hidden[id];
        if math_only {
            if self.a.formulas[id] > 0 {
                self.children(id, pre, true);
            }
            return;
        }
        if id != self.container && self.link_heavy(id, name) {
            return;
        }
        let b = break_of(name);
        if b > 0 {
            self.out.brk(b);
        }
        match name {
            "br" => {}
            "td" | "th" => {
                self.out.space = true;
                self.children(id, pre, false);
                self.out.space = true;
            }
            "pre" | "listing" | "plaintext" => self.children(id, true, false),
            "textarea" | "annotation" | "annotation-xml" => {}
            _ => self.children(id, pre, false),
        }
        if b > 0 {
            self.out.brk(b);
        }
    }

    fn in_display(&self, mut id: NodeId) -> bool {
        for _ in 0..4 {
            id = self.dom.nodes[id].parent;
            if id == 0 {
                return false;
            }
            if self.dom.attr(id, "class").is_some_and(|c| c.contains("katex-display") || c.contains("katex--display") || c.contains("mwe-math-mathml-display")) {
                return true;
            }
        }
        false
    }

    /// Navigation-like blocks: most of their text is link text, and they hold no paragraph of
    /// running text ([`Analysis::para_len`] under [`RUNNING_TEXT`]): a short article beside its
    /// link lists is not one.
    fn link_heavy(&self, id: NodeId, name: &str) -> bool {
        let t = self.a.text_len[id];
        if t == 0 || self.a.formulas[id] > 0 || self.a.para_len[id] >= RUNNING_TEXT {
            return false;
        }
        let ld = self.a.link_len[id] as f64 / t as f64;
        match name {
            "ul" | "ol" | "dl" | "div" | "section" | "table" | "tbody" | "tr" | "td" | "span" | "p" | "li" => ld > 0.5 && !(name == "p" && t > 200 && ld < 0.8),
            _ => false,
        }
    }

    /// A formula image as `$..$`: its `alt` TeX, or the TeX in its URL
    /// ([`math::formula_img_tex`]); any other image is dropped.
    fn img(&mut self, id: NodeId) {
        let dom = self.dom;
        let class = dom.attr(id, "class").unwrap_or("");
        if let Some(tex) = math::formula_img_tex(dom.attr(id, "src").unwrap_or(""), class, dom.attr(id, "alt").unwrap_or("")) {
            self.out.formula(&tex, class.contains("display"));
        }
    }
}
