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
use html5ever::{local_name, LocalName};
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
        let NodeData::Element { attrs, .. } = &self.nodes[id].data else { return None };
        if attrs.is_empty() {
            return None;
        }
        // Frequent names compare as interned atoms (an integer compare), others as strings.
        let atom = match attr {
            "class" => Some(local_name!("class")),
            "id" => Some(local_name!("id")),
            "style" => Some(local_name!("style")),
            "role" => Some(local_name!("role")),
            "hidden" => Some(local_name!("hidden")),
            "itemprop" => Some(local_name!("itemprop")),
            "type" => Some(local_name!("type")),
            "alt" => Some(local_name!("alt")),
            "src" => Some(local_name!("src")),
            "alttext" => Some(local_name!("alttext")),
            "display" => Some(local_name!("display")),
            _ => None,
        };
        match atom {
            Some(a) => attrs.iter().find(|(k, _)| *k == a),
            None => attrs.iter().find(|(k, _)| &**k == attr),
        }
        .map(|(_, v)| v.as_str())
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
    /// Open elements: node id and its [`code`].
    stack: Vec<(NodeId, u8)>,
    text: String,
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

impl Builder {
    fn new(len: usize) -> Self {
        let mut nodes = Vec::with_capacity(len / 40 + 16);
        nodes.push(Node { parent: 0, children: Vec::new(), data: NodeData::Document });
        Builder { nodes, stack: vec![(0, 0)], text: String::new() }
    }

    fn current(&self) -> NodeId {
        self.stack.last().map_or(0, |e| e.0)
    }

    fn current_code(&self) -> u8 {
        self.stack.last().map_or(0, |e| e.1)
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

    fn start(&mut self, tag: Tag) -> TokenSinkResult<()> {
        self.flush_text();
        let name = tag.name;
        let n: &str = &name;
        if matches!(n, "html" | "body" | "head") && self.stack.iter().any(|&(i, _)| self.name_of(i) == n) {
            return TokenSinkResult::Continue;
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
            "script" => Some(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => Some(RawKind::Rawtext),
            "title" | "textarea" => Some(RawKind::Rcdata),
            _ => None,
        };
        let leaf = is_void(n) || tag.self_closing;
        let attrs = tag.attrs.into_iter().map(|a| (a.name.local, String::from(a.value))).collect();
        let id = self.append(NodeData::Element { name, attrs });
        if !leaf && self.stack.len() < MAX_DEPTH {
            self.stack.push((id, c));
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
        let name = &tag.name;
        let found = self.stack.iter().rposition(|&(i, _)| matches!(&self.nodes[i].data, NodeData::Element { name: m, .. } if m == name));
        if let Some(pos) = found {
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
