//! A light arena tree of an HTML document, built from html5ever's spec tokenizer.
//!
//! The tokenizer (WHATWG HTML §13.2.5) does the hard, spec-bound part: states, attributes,
//! character references, raw-text elements. The tree construction here is deliberately much
//! simpler than §13.2.6: elements nest as tagged, an end tag closes the nearest open element of
//! its name, and the common implied end tags (`p`, `li`, `dt`/`dd`, `tr`/`td`/`th`, `option`,
//! headings) are applied. That is all text extraction needs, and it is several times cheaper than
//! a full DOM with reference-counted nodes. `<noscript>` is parsed as markup (the "scripting
//! disabled" reading), so pages that keep their content there (Discourse) still have it.

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::TokenizerResult;
use html5ever::LocalName;
use std::cell::RefCell;

/// Index of a node in [`Dom::nodes`]. The document node is 0; a node's parent always has a
/// smaller index (nodes are stored in document order).
pub type NodeId = usize;

/// Deepest element nesting kept; deeper start tags are attached flat at this depth so that
/// recursive walks stay bounded on hostile input.
pub const MAX_DEPTH: usize = 400;

/// What a node is.
#[derive(Debug)]
pub enum NodeData {
    /// The root.
    Document,
    /// An element: lowercase local name and attributes in source order (values decoded).
    Element { name: LocalName, attrs: Vec<(LocalName, String)> },
    /// A run of text, character references decoded.
    Text(String),
}

/// One node of the arena.
#[derive(Debug)]
pub struct Node {
    /// Parent node; the document's parent is itself (0).
    pub parent: NodeId,
    /// Children in document order.
    pub children: Vec<NodeId>,
    /// Element, text or document.
    pub data: NodeData,
}

/// A parsed document: an arena of nodes, the document node at index 0.
#[derive(Debug)]
pub struct Dom {
    /// All nodes, in document order.
    pub nodes: Vec<Node>,
}

impl Dom {
    /// Parses `html` (already decoded text). Never fails: malformed markup yields some tree.
    pub fn parse(html: &str) -> Dom {
        let sink = Sink(RefCell::new(Builder::new(html.len())));
        let tok = Tokenizer::new(sink, TokenizerOpts::default());
        let queue = BufferQueue::default();
        queue.push_back(StrTendril::from_slice(html));
        while let TokenizerResult::Script(()) = tok.feed(&queue) {}
        tok.end();
        let mut b = tok.sink.0.into_inner();
        b.flush_text();
        Dom { nodes: b.nodes }
    }

    /// The element name of `id`, or `""` for text and document nodes.
    pub fn name(&self, id: NodeId) -> &str {
        match &self.nodes[id].data {
            NodeData::Element { name, .. } => name,
            _ => "",
        }
    }

    /// The value of attribute `attr` of element `id`, if present.
    pub fn attr(&self, id: NodeId, attr: &str) -> Option<&str> {
        match &self.nodes[id].data {
            NodeData::Element { attrs, .. } => {
                attrs.iter().find(|(k, _)| &**k == attr).map(|(_, v)| v.as_str())
            }
            _ => None,
        }
    }

    /// True when `id`'s `class` attribute holds the class `class` (case-sensitive token).
    pub fn has_class(&self, id: NodeId, class: &str) -> bool {
        self.attr(id, "class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|t| t == class))
    }

    /// Children of `id`.
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id].children
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
                for &c in &self.nodes[id].children {
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
        self.nodes[id].children.iter().find_map(|&c| self.find(c, name))
    }
}

struct Sink(RefCell<Builder>);

struct Builder {
    nodes: Vec<Node>,
    stack: Vec<NodeId>,
    text: String,
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

impl Builder {
    fn new(len: usize) -> Self {
        let mut nodes = Vec::with_capacity(len / 40 + 16);
        nodes.push(Node { parent: 0, children: Vec::new(), data: NodeData::Document });
        Builder { nodes, stack: vec![0], text: String::new() }
    }

    fn current(&self) -> NodeId {
        *self.stack.last().unwrap_or(&0)
    }

    fn append(&mut self, data: NodeData) -> NodeId {
        let parent = self.current();
        let id = self.nodes.len();
        self.nodes.push(Node { parent, children: Vec::new(), data });
        self.nodes[parent].children.push(id);
        id
    }

    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            let t = std::mem::take(&mut self.text);
            self.append(NodeData::Text(t));
        }
    }

    /// Position in the stack of the nearest open `name`, searching down to a `stop` element.
    fn open_in_scope(&self, names: &[&str], stop: &[&str]) -> Option<usize> {
        for (pos, &id) in self.stack.iter().enumerate().rev().take(64) {
            let n = self.name_of(id);
            if names.contains(&n) {
                return Some(pos);
            }
            if stop.contains(&n) || id == 0 {
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

    fn close_implied(&mut self, name: &str) {
        const SCOPE: &[&str] = &["table", "td", "th", "caption", "html", "body", "button", "math", "svg", "object", "template", "marquee"];
        if closes_p(name) {
            if let Some(pos) = self.open_in_scope(&["p"], SCOPE) {
                self.stack.truncate(pos);
            }
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if matches!(self.name_of(self.current()), "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                    self.stack.pop();
                }
            }
            "li" => {
                if let Some(pos) = self.open_in_scope(&["li"], &["ul", "ol", "menu", "table", "td", "th", "body", "div", "section", "article"]) {
                    self.stack.truncate(pos);
                }
            }
            "dt" | "dd" => {
                if let Some(pos) = self.open_in_scope(&["dt", "dd"], &["dl", "table", "td", "th", "body", "div"]) {
                    self.stack.truncate(pos);
                }
            }
            "tr" => {
                if let Some(pos) = self.open_in_scope(&["tr"], &["table"]) {
                    self.stack.truncate(pos);
                }
            }
            "td" | "th" => {
                if let Some(pos) = self.open_in_scope(&["td", "th"], &["tr", "table"]) {
                    self.stack.truncate(pos);
                }
            }
            "tbody" | "thead" | "tfoot" => {
                if let Some(pos) = self.open_in_scope(&["tbody", "thead", "tfoot", "tr", "td", "th"], &["table"]) {
                    self.stack.truncate(pos);
                }
            }
            "option" | "optgroup" => {
                if self.name_of(self.current()) == "option" {
                    self.stack.pop();
                }
            }
            _ => {}
        }
        if self.stack.is_empty() {
            self.stack.push(0);
        }
    }

    fn start(&mut self, tag: Tag) -> TokenSinkResult<()> {
        self.flush_text();
        let name = tag.name;
        let n: &str = &name;
        if matches!(n, "html" | "body" | "head") && self.stack.iter().any(|&i| self.name_of(i) == n) {
            return TokenSinkResult::Continue;
        }
        if !matches!(n, "meta" | "link" | "title" | "script" | "style" | "base" | "noscript" | "template" | "head" | "html") {
            // Content outside the head's vocabulary (or `<body>`) ends an unclosed `<head>`.
            if let Some(pos) = self.stack.iter().position(|&i| self.name_of(i) == "head") {
                self.stack.truncate(pos);
            }
        }
        self.close_implied(n);
        let raw = match n {
            "script" => Some(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => Some(RawKind::Rawtext),
            "title" | "textarea" => Some(RawKind::Rcdata),
            _ => None,
        };
        let leaf = is_void(n) || tag.self_closing;
        let attrs = tag.attrs.into_iter().map(|a| (a.name.local, String::from(a.value))).collect();
        let id = self.append(NodeData::Element { name, attrs });
        if !leaf && self.stack.len() < MAX_DEPTH {
            self.stack.push(id);
        }
        match raw {
            Some(kind) if !leaf => TokenSinkResult::RawData(kind),
            _ => TokenSinkResult::Continue,
        }
    }

    fn end(&mut self, tag: Tag) {
        self.flush_text();
        let n: &str = &tag.name;
        match n {
            "html" | "body" => return,
            "br" => {
                self.append(NodeData::Element { name: tag.name, attrs: Vec::new() });
                return;
            }
            _ => {}
        }
        if let Some(pos) = self.stack.iter().rposition(|&i| self.name_of(i) == n) {
            if pos > 0 {
                self.stack.truncate(pos);
            }
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut b = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => return b.start(tag),
                TagKind::EndTag => b.end(tag),
            },
            Token::CharacterTokens(t) => b.text.push_str(&t),
            Token::EOFToken => b.flush_text(),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_end_tags_and_raw_text() {
        let d = Dom::parse("<ul><li>a<li>b</ul><p>x<p>y<script>if (a<b) {}</script>&lt;z&gt;");
        let ul = d.find(0, "ul").unwrap();
        assert_eq!(d.children(ul).len(), 2);
        let script = d.find(0, "script").unwrap();
        assert_eq!(d.text_content(script), "if (a<b) {}");
        assert!(d.text_content(0).ends_with("<z>"));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let html = "<div>".repeat(100_000) + "x";
        let d = Dom::parse(&html);
        assert_eq!(d.text_content(0), "x");
    }
}
