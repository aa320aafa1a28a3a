//! A light arena tree of an HTML document, built by our own single-pass tokenizer.
//!
//! Tokenizing follows the shapes of WHATWG HTML §13.2.5 that matter for text extraction: start
//! and end tags with attributes (double-, single- and un-quoted values, duplicates dropped,
//! names lowercased), character references ([`super::entities`]), comments, bogus comments
//! (`<!DOCTYPE>`, `<?xml>`, `</ x>`), CDATA sections inside MathML/SVG, and the raw-text
//! elements (`script`, `style`, `xmp`, `iframe`, `noembed`, `noframes`; `title` and `textarea`
//! as RCDATA, references decoded) whose content runs to the matching end tag. A `<` that starts
//! no tag is text; a tag cut off by the end of input is dropped. It scans bytes with `memchr`
//! and borrows text and attribute values from the decoded page (a copy only where a reference
//! is decoded), and keeps no text for `<script>`/`<style>` except MathJax's `math/tex` scripts.
//! It never panics: every index is bounded by the input's length and lands on a char boundary
//! (all delimiters are ASCII).
//!
//! The tree construction is deliberately much simpler than §13.2.6: elements nest as tagged, an
//! end tag closes the nearest open element of its name, and the common implied end tags (`p`,
//! `li`, `dt`/`dd`, `tr`/`td`/`th`, `option`, headings) are applied. That is all text extraction
//! needs. `<noscript>` is parsed as markup (the "scripting disabled" reading), so pages that keep
//! their content there (Discourse) still have it.

use super::entities;
use std::borrow::Cow;

/// Index of a node in [`Dom::nodes`]. The document node is 0; a node's parent always has a
/// smaller index (nodes are stored in document order).
pub type NodeId = usize;

/// Deepest element nesting kept; deeper start tags are attached flat at this depth so that
/// recursive walks stay bounded on hostile input.
pub const MAX_DEPTH: usize = 400;

/// What a node is. Strings borrow from the parsed page unless decoding changed them.
#[derive(Debug)]
pub enum NodeData<'a> {
    /// The root.
    Document,
    /// An element: lowercase local name; its attributes are read with [`Dom::attr`].
    Element {
        /// Lowercase tag name.
        name: Cow<'a, str>,
        /// Range of its attributes in the document's attribute table.
        attrs: (u32, u32),
    },
    /// A run of text, character references decoded.
    Text(Cow<'a, str>),
}

/// One node of the arena.
#[derive(Debug)]
pub struct Node<'a> {
    /// Parent node; the document's parent is itself (0).
    pub parent: NodeId,
    /// Range of its children in the document's child table.
    kids: (u32, u32),
    /// Element, text or document.
    pub data: NodeData<'a>,
}

/// One attribute: lowercase name, value with references decoded.
type Attr<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A parsed document: an arena of nodes, the document node at index 0, borrowing from the page.
#[derive(Debug)]
pub struct Dom<'a> {
    /// All nodes, in document order.
    pub nodes: Vec<Node<'a>>,
    /// Children of every node, grouped by parent, each group in document order.
    kids: Vec<NodeId>,
    /// Attributes of every element, grouped by element, in source order.
    attrs: Vec<Attr<'a>>,
}

impl<'a> Dom<'a> {
    /// Parses `html` (already decoded text). Never fails: malformed markup yields some tree.
    pub fn parse(html: &'a str) -> Dom<'a> {
        let mut b = Builder::new(html.len());
        tokenize(html, &mut b);
        b.finish()
    }

    /// The element name of `id`, or `""` for text and document nodes.
    pub fn name(&self, id: NodeId) -> &str {
        match &self.nodes[id].data {
            NodeData::Element { name, .. } => name,
            _ => "",
        }
    }

    /// The value of attribute `attr` (lowercase) of element `id`, if present.
    pub fn attr(&self, id: NodeId, attr: &str) -> Option<&str> {
        let NodeData::Element { attrs: (s, e), .. } = &self.nodes[id].data else { return None };
        self.attrs[*s as usize..*e as usize].iter().find(|(k, _)| k == attr).map(|(_, v)| &**v)
    }

    /// True when `id`'s `class` attribute holds the class `class` (case-sensitive token).
    pub fn has_class(&self, id: NodeId, class: &str) -> bool {
        self.attr(id, "class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|t| t == class))
    }

    /// Children of `id`, in document order.
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        let (s, e) = self.nodes[id].kids;
        &self.kids[s as usize..e as usize]
    }

    /// Concatenated text of `id`'s subtree (no separators added).
    pub fn text_content(&self, id: NodeId) -> String {
        let mut s = String::new();
        self.push_text(id, &mut s);
        s
    }

    fn push_text(&self, id: NodeId, out: &mut String) {
        match &self.nodes[id].data {
            NodeData::Text(t) => out.push_str(t),
            _ => {
                for &c in self.children(id) {
                    self.push_text(c, out);
                }
            }
        }
    }

    /// First element named `name` in `id`'s subtree (including `id`), in document order.
    pub fn find(&self, id: NodeId, name: &str) -> Option<NodeId> {
        if self.name(id) == name {
            return Some(id);
        }
        self.children(id).iter().find_map(|&c| self.find(c, name))
    }
}

/// Content model of a raw-text element (§13.2.5.2–3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// `script`: no references; text kept only for MathJax's `math/tex` scripts.
    Script,
    /// `style`, `xmp`, `iframe`, `noembed`, `noframes`: no references; `style` text dropped.
    Rawtext,
    /// `title`, `textarea`: references decoded.
    Rcdata,
}

#[inline]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C')
}

/// Lowercases `s` when it holds an ASCII capital; borrows it otherwise.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Where the tag that starts at `b[i] == b'<'` ends: one past its `>`, scanning attributes so
/// that a quoted `>` does not end it, with the attributes pushed to `out` (when given) and
/// whether it ends in `/>`. `None` when the input ends inside the tag.
fn scan_attrs<'a>(html: &'a str, mut i: usize, mut out: Option<&mut Vec<Attr<'a>>>) -> Option<(usize, bool)> {
    let b = html.as_bytes();
    let first = out.as_ref().map_or(0, |o| o.len());
    loop {
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        match *b.get(i)? {
            b'>' => return Some((i + 1, false)),
            b'/' => {
                if b.get(i + 1) == Some(&b'>') {
                    return Some((i + 2, true));
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        // Attribute name: the first character may be `=` (§13.2.5.32).
        let ns = i;
        i += 1;
        while i < b.len() && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = &html[ns..i];
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        let mut value: Cow<'a, str> = Cow::Borrowed("");
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && is_ws(b[i]) {
                i += 1;
            }
            match *b.get(i)? {
                q @ (b'"' | b'\'') => {
                    let vs = i + 1;
                    let ve = vs + memchr::memchr(q, &b[vs..])?;
                    if out.is_some() {
                        value = entities::decode(&html[vs..ve], true);
                    }
                    i = ve + 1;
                }
                b'>' => {}
                _ => {
                    let vs = i;
                    while i < b.len() && !is_ws(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    if out.is_some() {
                        value = entities::decode(&html[vs..i], true);
                    }
                }
            }
        }
        if let Some(o) = out.as_deref_mut() {
            let name = lower(name);
            if !o[first..].iter().any(|(k, _)| *k == name) {
                o.push((name, value));
            }
        }
    }
}

/// Where the raw text opened by `<name>` ends: the index of the `<` of `</name` followed by
/// whitespace, `/` or `>` (any case), or the end of input.
fn raw_end(b: &[u8], from: usize, name: &str) -> usize {
    let n = name.len();
    let mut i = from;
    while let Some(p) = memchr::memmem::find(&b[i..], b"</") {
        let s = i + p;
        let after = s + 2 + n;
        if after <= b.len()
            && b[s + 2..after].eq_ignore_ascii_case(name.as_bytes())
            && b.get(after).is_none_or(|&c| is_ws(c) || c == b'/' || c == b'>')
        {
            return s;
        }
        i = s + 2;
    }
    b.len()
}

/// True when `<` at `b[i]` opens markup (a tag, end tag, comment, declaration or processing
/// instruction) rather than standing for itself.
#[inline]
fn opens_markup(b: &[u8], i: usize) -> bool {
    match b.get(i + 1) {
        Some(c) if c.is_ascii_alphabetic() => true,
        Some(b'!' | b'?') => true,
        Some(b'/') => b.get(i + 2).is_some(),
        _ => false,
    }
}

/// One pass over `html` feeding `b` (see the module doc).
fn tokenize<'a>(html: &'a str, b: &mut Builder<'a>) {
    let s = html.as_bytes();
    let n = s.len();
    let mut i = 0;
    while i < n {
        // Text up to the next `<` that opens markup.
        let mut j = i;
        let lt = loop {
            match memchr::memchr(b'<', &s[j..]) {
                Some(p) if opens_markup(s, j + p) => break j + p,
                Some(p) => j = j + p + 1,
                None => break n,
            }
        };
        if lt > i {
            b.text(entities::decode(&html[i..lt], false));
        }
        if lt >= n {
            break;
        }
        i = lt;
        match s[i + 1] {
            b'!' => {
                let rest = &s[i + 2..];
                if rest.starts_with(b"--") {
                    // Comment; `<!-->` and `<!--->` close at once.
                    let body = i + 4;
                    i = if s[body..].starts_with(b">") {
                        body + 1
                    } else if s[body..].starts_with(b"->") {
                        body + 2
                    } else {
                        memchr::memmem::find(&s[body..], b"-->").map_or(n, |p| body + p + 3)
                    };
                } else if rest.starts_with(b"[CDATA[") && b.in_foreign() {
                    let cs = i + 9;
                    let ce = memchr::memmem::find(&s[cs..], b"]]>").map_or(n, |p| cs + p);
                    b.text(Cow::Borrowed(&html[cs..ce]));
                    i = (ce + 3).min(n);
                } else {
                    i = bogus_comment(s, i + 2);
                }
            }
            b'?' => i = bogus_comment(s, i + 1),
            b'/' => {
                let ns = i + 2;
                if s[ns] == b'>' {
                    i = ns + 1;
                } else if !s[ns].is_ascii_alphabetic() {
                    i = bogus_comment(s, ns);
                } else {
                    let mut e = ns + 1;
                    while e < n && !is_ws(s[e]) && !matches!(s[e], b'/' | b'>') {
                        e += 1;
                    }
                    let Some((end, _)) = scan_attrs(html, e, None) else { break };
                    b.end(lower(&html[ns..e]));
                    i = end;
                }
            }
            _ => {
                // Start tag.
                let ns = i + 1;
                let mut e = ns + 1;
                while e < n && !is_ws(s[e]) && !matches!(s[e], b'/' | b'>') {
                    e += 1;
                }
                let mark = b.attrs.len();
                let Some((end, self_closing)) = scan_attrs(html, e, Some(&mut b.attrs)) else {
                    b.attrs.truncate(mark);
                    break;
                };
                i = end;
                let name = lower(&html[ns..e]);
                let Some((raw, id)) = b.start(name, mark, self_closing) else { continue };
                let tag_name = b.raw_name(id);
                let ce = raw_end(s, i, tag_name);
                // Content is kept only when the element is open (not past MAX_DEPTH).
                let keep = b.current() == id
                    && match raw {
                        Raw::Rcdata => true,
                        Raw::Rawtext => tag_name != "style",
                        Raw::Script => b.is_tex_script(id),
                    };
                if keep && ce > i {
                    let t = &html[i..ce];
                    b.text(if raw == Raw::Rcdata { entities::decode(t, false) } else { Cow::Borrowed(t) });
                }
                i = ce;
            }
        }
    }
    b.flush_text();
}

/// End of a bogus comment whose content starts at `from`: one past the next `>`.
fn bogus_comment(s: &[u8], from: usize) -> usize {
    memchr::memchr(b'>', &s[from.min(s.len())..]).map_or(s.len(), |p| from + p + 1)
}

struct Builder<'a> {
    nodes: Vec<Node<'a>>,
    attrs: Vec<Attr<'a>>,
    /// Open elements: node id and its [`code`].
    stack: Vec<(NodeId, u8)>,
    /// Text not yet appended: consecutive runs (split by comments) are merged.
    text: Option<Cow<'a, str>>,
}

// Codes of the tags tree construction looks at; 0 for all others.
const C_P: u8 = 1;
const C_LI: u8 = 2;
const C_DTDD: u8 = 3;
const C_TR: u8 = 4;
const C_TDTH: u8 = 5;
const C_TSECT: u8 = 6;
const C_OPTION: u8 = 7;
const C_HEADING: u8 = 8;
const C_HEAD: u8 = 9;
const C_TABLE: u8 = 10;
const C_LIST: u8 = 11;
const C_DL: u8 = 12;
const C_SCOPE: u8 = 13;
const C_BLOCK: u8 = 14;
const C_BODY: u8 = 15;

fn code(name: &str) -> u8 {
    match name {
        "p" => C_P,
        "li" => C_LI,
        "dt" | "dd" => C_DTDD,
        "tr" => C_TR,
        "td" | "th" => C_TDTH,
        "tbody" | "thead" | "tfoot" => C_TSECT,
        "option" => C_OPTION,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => C_HEADING,
        "head" => C_HEAD,
        "table" => C_TABLE,
        "ul" | "ol" | "menu" => C_LIST,
        "dl" => C_DL,
        "caption" | "html" | "button" | "math" | "svg" | "object" | "template" | "marquee" => C_SCOPE,
        "div" | "section" | "article" => C_BLOCK,
        "body" => C_BODY,
        _ => 0,
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area" | "base" | "br" | "col" | "embed" | "hr" | "img" | "input" | "link" | "meta"
            | "param" | "source" | "track" | "wbr" | "keygen" | "basefont" | "bgsound" | "frame"
    )
}

/// Start tags that close an open `<p>` (HTML §13.2.6.4.7, "in body").
fn closes_p(name: &str) -> bool {
    matches!(
        name,
        "address" | "article" | "aside" | "blockquote" | "center" | "details" | "dialog"
            | "dir" | "div" | "dl" | "fieldset" | "figcaption" | "figure" | "footer" | "form"
            | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "header" | "hgroup" | "hr" | "main"
            | "menu" | "nav" | "ol" | "p" | "pre" | "section" | "summary" | "table" | "ul"
            | "listing" | "xmp"
    )
}

impl<'a> Builder<'a> {
    fn new(len: usize) -> Self {
        let mut nodes = Vec::with_capacity(len / 40 + 16);
        nodes.push(Node { parent: 0, kids: (0, 0), data: NodeData::Document });
        Builder { nodes, attrs: Vec::with_capacity(len / 60 + 16), stack: vec![(0, 0)], text: None }
    }

    fn finish(mut self) -> Dom<'a> {
        self.flush_text();
        // Children as one table grouped by parent (counting sort; ids ascend, so each group is in
        // document order).
        let n = self.nodes.len();
        let mut start = vec![0u32; n + 1];
        for node in &self.nodes[1..] {
            start[node.parent + 1] += 1;
        }
        for k in 0..n {
            start[k + 1] += start[k];
        }
        let mut fill: Vec<u32> = start[..n].to_vec();
        let mut kids = vec![0; n.saturating_sub(1)];
        for id in 1..n {
            let p = self.nodes[id].parent;
            kids[fill[p] as usize] = id;
            fill[p] += 1;
        }
        for (id, node) in self.nodes.iter_mut().enumerate() {
            node.kids = (start[id], start[id + 1]);
        }
        Dom { nodes: self.nodes, kids, attrs: self.attrs }
    }

    fn current(&self) -> NodeId {
        self.stack.last().map_or(0, |e| e.0)
    }

    fn current_code(&self) -> u8 {
        self.stack.last().map_or(0, |e| e.1)
    }

    /// The name of raw-text element `id` as a static string.
    fn raw_name(&self, id: NodeId) -> &'static str {
        match &self.nodes[id].data {
            NodeData::Element { name, .. } => match &**name {
                "script" => "script",
                "style" => "style",
                "xmp" => "xmp",
                "iframe" => "iframe",
                "noembed" => "noembed",
                "noframes" => "noframes",
                "title" => "title",
                "textarea" => "textarea",
                _ => "",
            },
            _ => "",
        }
    }

    /// Element `id` is a MathJax v2 `<script type="math/tex...">`.
    fn is_tex_script(&self, id: NodeId) -> bool {
        let NodeData::Element { attrs: (s, e), .. } = &self.nodes[id].data else { return false };
        self.attrs[*s as usize..*e as usize]
            .iter()
            .find(|(k, _)| k == "type")
            .is_some_and(|(_, v)| v.trim_start().get(..8).is_some_and(|p| p.eq_ignore_ascii_case("math/tex")))
    }

    /// Inside `<math>` or `<svg>` (where CDATA sections are text).
    fn in_foreign(&self) -> bool {
        self.stack.iter().any(|&(id, _)| matches!(self.name_of(id), "math" | "svg"))
    }

    fn append(&mut self, data: NodeData<'a>) -> NodeId {
        let parent = self.current();
        let id = self.nodes.len();
        self.nodes.push(Node { parent, kids: (0, 0), data });
        id
    }

    fn text(&mut self, t: Cow<'a, str>) {
        match &mut self.text {
            None => self.text = Some(t),
            Some(prev) => prev.to_mut().push_str(&t),
        }
    }

    fn flush_text(&mut self) {
        if let Some(t) = self.text.take() {
            if !t.is_empty() {
                self.append(NodeData::Text(t));
            }
        }
    }

    /// Position in the stack of the nearest open element with a code in `codes`, searching
    /// down to one with a code in `stop` (the document always stops).
    fn open_in_scope(&self, codes: &[u8], stop: &[u8]) -> Option<usize> {
        for (pos, &(id, c)) in self.stack.iter().enumerate().rev().take(64) {
            if codes.contains(&c) {
                return Some(pos);
            }
            if stop.contains(&c) || id == 0 {
                return None;
            }
        }
        None
    }

    fn name_of(&self, id: NodeId) -> &str {
        match &self.nodes[id].data {
            NodeData::Element { name, .. } => name,
            _ => "",
        }
    }

    fn close_implied(&mut self, name: &str, c: u8) {
        const SCOPE: &[u8] = &[C_TABLE, C_TDTH, C_SCOPE, C_BODY];
        if closes_p(name) {
            if let Some(pos) = self.open_in_scope(&[C_P], SCOPE) {
                self.stack.truncate(pos);
            }
        }
        let pos = match c {
            C_HEADING => (self.current_code() == C_HEADING).then(|| self.stack.len() - 1),
            C_LI => self.open_in_scope(&[C_LI], &[C_LIST, C_TABLE, C_TDTH, C_BODY, C_BLOCK]),
            C_DTDD => self.open_in_scope(&[C_DTDD], &[C_DL, C_TABLE, C_TDTH, C_BODY, C_BLOCK]),
            C_TR => self.open_in_scope(&[C_TR], &[C_TABLE]),
            C_TDTH => self.open_in_scope(&[C_TDTH], &[C_TR, C_TABLE]),
            C_TSECT => self.open_in_scope(&[C_TSECT, C_TR, C_TDTH], &[C_TABLE]),
            C_OPTION => (self.current_code() == C_OPTION).then(|| self.stack.len() - 1),
            _ => None,
        };
        if let Some(pos) = pos {
            self.stack.truncate(pos);
        }
        if self.stack.is_empty() {
            self.stack.push((0, 0));
        }
    }

    /// A start tag whose attributes are `self.attrs[attrs_from..]`. Returns the raw-text model
    /// and the element when it is a raw-text element (its content comes next).
    fn start(&mut self, name: Cow<'a, str>, attrs_from: usize, self_closing: bool) -> Option<(Raw, NodeId)> {
        self.flush_text();
        let n: &str = &name;
        if matches!(n, "html" | "body" | "head") && self.stack.iter().any(|&(i, _)| self.name_of(i) == n) {
            self.attrs.truncate(attrs_from);
            return None;
        }
        let c = code(n);
        if !matches!(n, "meta" | "link" | "title" | "script" | "style" | "base" | "noscript" | "template" | "head" | "html") {
            // Content outside the head's vocabulary (or `<body>`) ends an unclosed `<head>`.
            if let Some(pos) = self.stack.iter().take(4).position(|&(_, c)| c == C_HEAD) {
                self.stack.truncate(pos);
            }
        }
        self.close_implied(n, c);
        let raw = match n {
            "script" => Some(Raw::Script),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => Some(Raw::Rawtext),
            "title" | "textarea" => Some(Raw::Rcdata),
            _ => None,
        };
        let leaf = is_void(n) || self_closing;
        let attrs = (attrs_from as u32, self.attrs.len() as u32);
        let id = self.append(NodeData::Element { name, attrs });
        if leaf {
            return None;
        }
        if self.stack.len() < MAX_DEPTH {
            self.stack.push((id, c));
        }
        raw.map(|r| (r, id))
    }

    fn end(&mut self, name: Cow<'a, str>) {
        self.flush_text();
        match &*name {
            "html" | "body" => return,
            "br" => {
                let at = self.attrs.len() as u32;
                self.append(NodeData::Element { name, attrs: (at, at) });
                return;
            }
            _ => {}
        }
        let found = self.stack.iter().rposition(|&(i, _)| self.name_of(i) == name);
        if let Some(pos) = found {
            if pos > 0 {
                self.stack.truncate(pos);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_end_tags_and_raw_text() {
        let d = Dom::parse("<ul><li>a<li>b</ul><p>x<p>y<script>if (a<b) {}</script><script type='math/tex'>a<b</script>&lt;z&gt;");
        let ul = d.find(0, "ul").unwrap();
        assert_eq!(d.children(ul).len(), 2);
        let script = d.find(0, "script").unwrap();
        assert_eq!(d.text_content(script), "", "plain scripts keep no text");
        assert!(d.text_content(0).ends_with("a<b<z>"));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let html = "<div>".repeat(100_000) + "x";
        let d = Dom::parse(&html);
        assert_eq!(d.text_content(0), "x");
    }

    #[test]
    fn attributes_quoting_duplicates_and_references() {
        let d = Dom::parse("<IMG Alt=\"a > b &amp; c\" src=x.png?a=1&copy=2 class='k' class=dup data-x hidden/>t");
        let img = d.find(0, "img").unwrap();
        assert_eq!(d.attr(img, "alt"), Some("a > b & c"));
        assert_eq!(d.attr(img, "src"), Some("x.png?a=1&copy=2"));
        assert_eq!(d.attr(img, "class"), Some("k"));
        assert_eq!(d.attr(img, "data-x"), Some(""));
        assert_eq!(d.attr(img, "hidden"), Some(""));
        assert_eq!(d.text_content(0), "t");
    }

    #[test]
    fn comments_doctype_cdata_and_stray_lt() {
        let d = Dom::parse(
            "<!DOCTYPE html><?xml x?><p>a<!-- <b>no</b> -->b<!-->c</ 3>d</>e < f <3 <math><![CDATA[x<y]]></math><div><![CDATA[z]]>w</div>",
        );
        assert_eq!(d.text_content(0), "abcde < f <3 x<yw");
        assert!(d.find(0, "b").is_none());
    }

    #[test]
    fn rcdata_and_rawtext_end_tags() {
        let d = Dom::parse("<title>A &amp; <b>B</b></TITLE ><style>p{}</style ><textarea>x</textarea2></textarea><p>after");
        let t = d.find(0, "title").unwrap();
        assert_eq!(d.text_content(t), "A & <b>B</b>");
        assert_eq!(d.text_content(d.find(0, "style").unwrap()), "");
        assert_eq!(d.text_content(d.find(0, "textarea").unwrap()), "x</textarea2>");
        assert_eq!(d.text_content(d.find(0, "p").unwrap()), "after");
    }

    #[test]
    fn truncated_markup_never_panics() {
        let page = "<html><head><title>T</title></head><body><p class=\"a\" id='b'>x &amp y<!-- c --><script>s</script><math><![CDATA[q]]></math></p></body></html>";
        for cut in 0..=page.len() {
            let d = Dom::parse(&page[..cut]);
            let _ = d.text_content(0);
        }
        for odd in ["<", "</", "<!", "<!-", "<!--", "<a", "<a b", "<a b=", "<a b='", "<a b=\"x", "&", "&#x", "<script", "<script>", "<![CDATA["] {
            let _ = Dom::parse(odd).text_content(0);
        }
    }
}
