//! Boilerplate removal and choice of the main container.
//!
//! Per element, in document order: dropped by tag (`nav`, `footer`, `form`, `aside`, ...),
//! ARIA role (`navigation`, `banner`, `contentinfo`, `complementary`, ...), or class/id tokens
//! naming boilerplate (comments, sidebars, share widgets, related links, cookie banners, ads),
//! unless it holds the article body (`[itemprop=articleBody]`, or a class/id naming content, BEM
//! spellings such as `article__body` included, over a paragraph of running text) or most of the
//! page's text (never by size alone for a comment section: a short article can sit above a long
//! thread). Hidden elements (`hidden`, `display:none`)
//! are rendered for their mathematics only. Then, bottom-up: text length, link-text length and
//! formula count of every subtree, and its running text (text nodes of 40+ characters outside
//! links: sentences, not menus); the main container is the largest `[itemprop=articleBody]`,
//! `<article>` or `<main>` holding a quarter of the text or half of the running text (a short
//! article beside long menus and link lists), else the best Readability-style candidate
//! (paragraph scores of 1 + commas + length/100 up to 3, credited to parent and half to
//! grandparent, scaled by 1 - link density). The container is then widened while its parent adds
//! formulas, because on a math page the formulas mark the content (answers below a question).

use super::dom::{Dom, NodeData, NodeId};
use super::math;

/// Per-node facts the renderer needs. Vectors are indexed by [`NodeId`].
#[derive(Debug)]
pub struct Analysis {
    /// Subtree dropped as boilerplate or non-content.
    pub skip: Vec<bool>,
    /// Element hidden (`hidden`, `display:none`, `visibility:hidden`): only its math is kept.
    pub hidden: Vec<bool>,
    /// Visible text in the subtree (formula sources included), in [`nonws_len`] units:
    /// non-whitespace characters, a Han or kana character counting [`CJK_WEIGHT`].
    pub text_len: Vec<u32>,
    /// The part of `text_len` inside `<a>` elements.
    pub link_len: Vec<u32>,
    /// Formulas in the subtree (structured math and TeX-delimited text).
    pub formulas: Vec<u32>,
    /// Running text in the subtree: the part of `text_len` in text nodes of 40 or more units
    /// outside `<a>` (sentences, not menu entries or link lists; 14 Han characters make 42).
    pub para_len: Vec<u32>,
    /// The page carries MathJax v2 `<script type="math/tex">`, so MathJax's rendered spans are
    /// duplicates to skip.
    pub has_tex_scripts: bool,
    /// The `<body>` element (or the document node).
    pub body: NodeId,
}

const DROP_TAGS: &[&str] = &[
    "head", "style", "template", "iframe", "nav", "aside", "footer", "menu", "object", "embed", "canvas", "button", "select", "input", "textarea", "audio", "video",
    "map", "noembed", "noframes", "link", "meta", "svg", "option", "datalist", "figcaption", "picture", "source", "title",
];

/// [`DROP_TAGS`] as a `match` (compiled to length-then-bytes compares).
fn is_drop_tag(name: &str) -> bool {
    let hit = matches!(
        name,
        "head" | "style" | "template" | "iframe" | "nav" | "aside" | "footer" | "menu" | "object" | "embed" | "canvas" | "button" | "select"
            | "input" | "textarea" | "audio" | "video" | "map" | "noembed" | "noframes" | "link" | "meta" | "svg" | "option" | "datalist"
            | "figcaption" | "picture" | "source" | "title"
    );
    debug_assert_eq!(hit, DROP_TAGS.contains(&name));
    hit
}

/// Tags that are usually boilerplate but sometimes wrap a whole page (ASP.NET's page-wide
/// `<form>`): dropped like a bad class/id, unless they hold most of the text.
const SOFT_DROP_TAGS: &[&str] = &["form", "header", "dialog", "label"];

const DROP_ROLES: &[&str] =
    &["navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog", "alertdialog", "toolbar", "tablist"];

/// Substrings of class/id tokens that mark boilerplate.
const BAD_PARTS: &[&str] = &[
    "comment", "sidebar", "share", "sharing", "social", "related", "recommend", "cookie", "consent", "gdpr", "banner", "advert",
    "sponsor", "promo", "newsletter", "subscri", "signup", "sign-up", "footer", "masthead", "navbar", "breadcrumb", "pagination",
    "pager", "popup", "modal", "overlay", "widget", "toolbar", "disqus", "outbrain", "taboola", "trending", "most-popular",
    "mostpopular", "more-stories", "read-more", "readmore", "skip-link", "skiplink", "visually-hidden", "sr-only", "screen-reader",
    "author-bio", "byline", "dateline", "timestamp", "tags", "taglist", "login", "inline-ad", "ad-container",
    "adwrap", "ad-wrap", "ad-slot", "adslot", "rail", "teaser", "caption", "credit", "print-only", "hidden-print", "toc", "jump-link",
    "meta-data", "post-meta", "entry-meta", "article-meta", "infobox", "navbox", "catlinks", "mw-editsection", "reflist", "references",
    "noprint", "menu", "offcanvas", "hatnote", "vote", "post-menu", "user-info", "signature", "badge", "gravatar", "mw-jump",
];

/// Running text (visible characters outside links, in text nodes of 40 or more) that makes a
/// block content: about one short paragraph.
pub const RUNNING_TEXT: u32 = 100;

/// Tokens that mark content and protect an element from the class/id rule.
const GOOD_PARTS: &[&str] = &["article-body", "articlebody", "post-text", "post-body", "entry-content", "story-body", "s-prose", "mw-parser-output", "js-post-body"];

/// [`GOOD_PARTS`] with `-` and `_` removed.
const GOOD_JOINED: &[&str] = &["articlebody", "articlebody", "posttext", "postbody", "entrycontent", "storybody", "sprose", "mwparseroutput", "jspostbody"];

/// Patterns bucketed by first byte, for a fast substring scan of short lowercase tokens.
struct Parts {
    by_first: Vec<Vec<&'static [u8]>>,
}

impl Parts {
    fn new<'p>(parts: impl IntoIterator<Item = &'p &'static str>) -> Self {
        let mut by_first = vec![Vec::new(); 256];
        for p in parts {
            by_first[p.as_bytes()[0] as usize].push(p.as_bytes());
        }
        Parts { by_first }
    }

    fn any_in(&self, t: &[u8]) -> bool {
        (0..t.len()).any(|i| self.by_first[t[i] as usize].iter().any(|p| t[i..].starts_with(p)))
    }
}

/// Short words of [`BAD_PARTS`] that count only as whole hyphen/underscore-separated ends.
const SHORT_BAD: &[&str] = &["rail", "toc", "tags", "vote", "menu", "badge"];

/// [`BAD_PARTS`] (less [`SHORT_BAD`]) and [`GOOD_PARTS`], bucketed.
struct PartSets {
    bad: Parts,
    good: Parts,
    /// [`GOOD_PARTS`] with `-` and `_` removed, matched against tokens with them removed.
    good_joined: Parts,
}

impl PartSets {
    fn new() -> Self {
        debug_assert!(GOOD_PARTS.iter().map(|p| p.replace(['-', '_'], "")).eq(GOOD_JOINED.iter().map(|p| p.to_string())));
        PartSets { bad: Parts::new(BAD_PARTS.iter().filter(|p| !SHORT_BAD.contains(p))), good: Parts::new(GOOD_PARTS), good_joined: Parts::new(GOOD_JOINED) }
    }
}

/// (holds a [`GOOD_PARTS`] word, is boilerplate by itself) for one class or id token.
fn token_verdict(t: &str, parts: &PartSets) -> (bool, bool) {
    let mut buf = [0u8; 64];
    let owned;
    let t: &[u8] = if t.len() <= buf.len() {
        let b = &mut buf[..t.len()];
        b.copy_from_slice(t.as_bytes());
        b.make_ascii_lowercase();
        b
    } else {
        owned = t.to_ascii_lowercase();
        owned.as_bytes()
    };
    // Content words match across BEM-style separators too (`article__body`, `entry_content`).
    let good = parts.good.any_in(t) || (t.contains(&b'_') && {
        let mut joined = [0u8; 64];
        let mut n = 0;
        for &c in t.iter().filter(|&&c| c != b'-' && c != b'_').take(joined.len()) {
            joined[n] = c;
            n += 1;
        }
        parts.good_joined.any_in(&joined[..n])
    });
    let ad = t == b"ad"
        || t == b"ads"
        || t.starts_with(b"ad-")
        || t.starts_with(b"ads-")
        || t.ends_with(b"-ad")
        || t.ends_with(b"-ads")
        || t.starts_with(b"advert")
        || t.starts_with(b"google-ad");
    let short = || {
        SHORT_BAD.iter().any(|b| {
            let b = b.as_bytes();
            t == b
                || (t.starts_with(b) && matches!(t.get(b.len()), Some(b'-' | b'_')))
                || (t.ends_with(b) && t.len() > b.len() && t[t.len() - b.len() - 1] == b'-')
        })
    };
    (good, ad || short() || parts.bad.any_in(t))
}

/// Class verdicts memoised per page (class strings repeat a lot; ids rarely do).
#[derive(Default)]
struct BadCache<'a>(std::collections::HashMap<&'a str, (bool, bool)>);

/// The word sets, built once per process.
fn part_sets() -> &'static PartSets {
    static SETS: std::sync::OnceLock<PartSets> = std::sync::OnceLock::new();
    SETS.get_or_init(PartSets::new)
}

/// (names content, names boilerplate) by class/id: some token holds a [`GOOD_PARTS`] word; no
/// token holds one and some token is bad (the id counts as one token).
fn class_id_verdict<'a>(dom: &'a Dom<'_>, id: NodeId, cache: &mut BadCache<'a>) -> (bool, bool) {
    let class = dom.attr(id, "class").unwrap_or("");
    let idv = dom.attr(id, "id").unwrap_or("");
    if class.is_empty() && idv.is_empty() {
        return (false, false);
    }
    let parts = part_sets();
    let (mut good, mut bad) = (false, false);
    if !class.is_empty() {
        (good, bad) = match cache.0.get(class) {
            Some(&v) => v,
            None => {
                let v = class.split_ascii_whitespace().map(|t| token_verdict(t, parts)).fold((false, false), |a, v| (a.0 || v.0, a.1 || v.1));
                cache.0.insert(class, v);
                v
            }
        };
    }
    if !idv.is_empty() {
        let (g, b) = token_verdict(idv, parts);
        good |= g;
        bad |= b;
    }
    (good, !good && bad)
}

fn is_comment_like(dom: &Dom, id: NodeId) -> bool {
    [dom.attr(id, "class"), dom.attr(id, "id")].iter().flatten().any(|v| v.to_ascii_lowercase().contains("comment"))
}

fn is_hidden(dom: &Dom, id: NodeId) -> bool {
    if dom.attr(id, "hidden").is_some() {
        return true;
    }
    if let Some(style) = dom.attr(id, "style") {
        let has = |w: &[u8]| style.as_bytes().windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
        if !has(b"none") && !has(b"hidden") {
            return false;
        }
        let s: String = style.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        if s.contains("display:none") || s.contains("visibility:hidden") {
            return true;
        }
    }
    false
}

/// Is this element a MathJax v2 math script?
pub fn is_tex_script(dom: &Dom, id: NodeId) -> bool {
    dom.name(id) == "script" && dom.attr(id, "type").is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("math/tex"))
}

/// Counts TeX-delimited formulas in a text run: `\(`, `\[`, `\begin{`, `$$..$$` pairs, and
/// `$..$` pairs on one line whose inside looks like TeX (a control word, `^`, `_`, `{`, `=`, or a
/// single letter), so prices (`$5 and $10`) are not counted.
pub fn count_text_formulas(t: &str) -> u32 {
    let b = t.as_bytes();
    if memchr::memchr2(b'\\', b'$', b).is_none() {
        return 0;
    }
    let mut n = 0u32;
    n += memchr::memmem::find_iter(b, b"\\(").count() as u32;
    n += memchr::memmem::find_iter(b, b"\\[").count() as u32;
    n += memchr::memmem::find_iter(b, b"\\begin{").count() as u32;
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'$', &b[i..]) {
        let s = i + p;
        if b.get(s + 1) == Some(&b'$') {
            // display: up to the closing `$$`
            match memchr::memmem::find(&b[s + 2..], b"$$") {
                Some(e) => {
                    n += 1;
                    i = s + 2 + e + 2;
                }
                None => break,
            }
            continue;
        }
        let Some(e) = memchr::memchr2(b'$', b'\n', &b[s + 1..]) else { break };
        let end = s + 1 + e;
        if b[end] == b'\n' {
            i = end;
            continue;
        }
        let inner = &t[s + 1..end];
        let texy = !inner.is_empty()
            && inner.len() <= 300
            && !inner.starts_with(' ')
            && !inner.ends_with(' ')
            && (inner.contains(['\\', '^', '_', '{', '=']) || (inner.len() == 1 && inner.as_bytes()[0].is_ascii_alphabetic()));
        if texy {
            n += 1;
            i = end + 1;
        } else {
            i = end;
        }
    }
    n
}

/// What one Han or kana character counts for in [`nonws_len`], in Latin characters. Chinese and
/// Japanese are written without spaces and a word is one to two characters, so a character
/// carries about what an English word does (five letters and its space): counted as 3, the
/// thresholds on text length (a paragraph of running text, a main container's size) mean the
/// same amount of text in either script.
pub const CJK_WEIGHT: u32 = 3;

/// Text length of `t` in Latin-character units: non-whitespace characters, a Han or kana
/// character ([`crate::segment::is_cjk`]) counted [`CJK_WEIGHT`] times.
pub fn nonws_len(t: &str) -> u32 {
    if t.is_ascii() {
        return t.bytes().filter(|&b| b != b' ' && !(b'\t'..=b'\r').contains(&b)).count() as u32;
    }
    t.chars().filter(|c| !c.is_whitespace()).map(|c| if crate::segment::is_cjk(c) { CJK_WEIGHT } else { 1 }).sum()
}

/// Analyses `dom` (see the module doc).
pub fn analyse(dom: &Dom) -> Analysis {
    let n = dom.nodes.len();
    let mut skip = vec![false; n];
    let mut hidden = vec![false; n];
    let mut class_bad = vec![false; n];
    // Class/id names content (`entry-content`, `article__body`).
    let mut content_class = vec![false; n];
    let mut has_tex_scripts = false;
    let mut cache = BadCache::default();
    let mut body = 0;
    for id in 1..n {
        let parent = dom.nodes[id].parent;
        if skip[parent] {
            skip[id] = true;
            continue;
        }
        hidden[id] = hidden[parent];
        let NodeData::Element { name, .. } = &dom.nodes[id].data else { continue };
        let name: &str = name;
        match name {
            "body" => body = id,
            "script" => {
                if is_tex_script(dom, id) {
                    has_tex_scripts = true;
                } else {
                    skip[id] = true;
                }
                continue;
            }
            "noscript" if in_head(dom, id) => skip[id] = true,
            "math" => continue,
            _ => {}
        }
        if is_drop_tag(name) {
            skip[id] = true;
            continue;
        }
        if let Some(role) = dom.attr(id, "role") {
            if DROP_ROLES.contains(&role.trim()) {
                skip[id] = true;
                continue;
            }
        }
        if is_hidden(dom, id) {
            hidden[id] = true;
        }
        if SOFT_DROP_TAGS.contains(&name) {
            class_bad[id] = true;
        } else {
            (content_class[id], class_bad[id]) = class_id_verdict(dom, id, &mut cache);
        }
    }
    // Bottom-up sizes (children have larger ids than parents).
    let mut text_len = vec![0u32; n];
    let mut link_len = vec![0u32; n];
    let mut formulas = vec![0u32; n];
    let mut para_len = vec![0u32; n];
    // Subtree holds an `[itemprop=articleBody]`: never dropped by class/id.
    let mut holds_body = vec![false; n];
    for id in (1..n).rev() {
        if skip[id] {
            continue;
        }
        match &dom.nodes[id].data {
            NodeData::Text(t) => {
                if !hidden[id] {
                    text_len[id] = nonws_len(t);
                    formulas[id] = count_text_formulas(t);
                    if text_len[id] >= 40 {
                        para_len[id] = text_len[id];
                    }
                }
            }
            NodeData::Element { name, .. } => {
                let name: &str = name;
                if name == "a" {
                    link_len[id] = text_len[id];
                }
                if name == "a" {
                    para_len[id] = 0;
                }
                if name == "math" || is_tex_script(dom, id) || dom.attr(id, "data-tex").is_some() {
                    formulas[id] = 1;
                    if name == "math" {
                        text_len[id] = text_len[id].min(dom.attr(id, "alttext").map_or(text_len[id], nonws_len));
                    }
                } else if name == "img" {
                    let src = dom.attr(id, "src").unwrap_or("");
                    if math::img_is_formula(src, dom.attr(id, "class").unwrap_or("")) {
                        let alt = dom.attr(id, "alt").unwrap_or("");
                        let len = if alt.trim().is_empty() { math::tex_from_formula_url(src).map_or(0, |t| nonws_len(&t)) } else { nonws_len(alt) };
                        if len > 0 {
                            formulas[id] = 1;
                            text_len[id] = len;
                        }
                    }
                }
            }
            NodeData::Document => {}
        }
        let p = dom.nodes[id].parent;
        text_len[p] += text_len[id];
        link_len[p] += link_len[id];
        formulas[p] += formulas[id];
        para_len[p] += para_len[id];
        // The article body, marked by microdata or by a class/id naming content over a
        // paragraph of running text: its ancestors are never dropped by class/id.
        if (content_class[id] && para_len[id] >= RUNNING_TEXT) || dom.attr(id, "itemprop").is_some_and(|v| v.to_ascii_lowercase().contains("articlebody")) {
            holds_body[id] = true;
        }
        holds_body[p] |= holds_body[id];
    }
    // Class/id boilerplate: drop unless the element holds most of the page's text.
    let total = text_len[body].max(1) as f64;
    let total_para = para_len[body].max(1) as f64;
    let total_f = formulas[body].max(1) as f64;
    // A thread page (forum, Q&A, reviews): the comment-like blocks hold the running text and
    // the page outside them hardly any (no article above the thread). Its posts are content.
    let mut in_comments = vec![false; n];
    let mut thread_para = 0u32;
    for id in 1..n {
        in_comments[id] = in_comments[dom.nodes[id].parent];
        if class_bad[id] && !skip[id] && !in_comments[id] && is_comment_like(dom, id) {
            in_comments[id] = true;
            thread_para += para_len[id];
        }
    }
    let thread_page = thread_para >= 2 * RUNNING_TEXT && para_len[body].saturating_sub(thread_para) < 2 * RUNNING_TEXT;
    let mut dropped_any = false;
    for id in 1..n {
        // On a math page, comment threads that carry formulas are content (Q&A sites); so are
        // the posts of a thread page.
        if !class_bad[id] || skip[id] {
            continue;
        }
        let math_comments = ((formulas[id] > 0 && formulas[body] >= 5) || (thread_page && para_len[id] > 0)) && is_comment_like(dom, id);
        // A comment section is never the page's main text by its size alone (a short article
        // under a long thread); other wrappers with a boilerplate word are, when they hold most of it.
        let by_size = (text_len[id] as f64 >= 0.5 * total || para_len[id] as f64 >= 0.5 * total_para) && !is_comment_like(dom, id);
        let protected = holds_body[id] || math_comments || by_size || (formulas[id] >= 3 && formulas[id] as f64 >= 0.5 * total_f);
        if !protected {
            skip[id] = true;
            dropped_any = true;
        }
    }
    if dropped_any {
        // Re-propagate skips and sizes.
        for id in 1..n {
            if skip[dom.nodes[id].parent] {
                skip[id] = true;
            }
        }
        // Subtract each skipped root's sizes from all its ancestors (none of them skipped), in
        // one walk up per root.
        for id in 1..n {
            if !skip[id] || skip[dom.nodes[id].parent] {
                continue;
            }
            let x = (text_len[id], link_len[id], formulas[id], para_len[id]);
            let mut a = dom.nodes[id].parent;
            loop {
                text_len[a] = text_len[a].saturating_sub(x.0);
                link_len[a] = link_len[a].saturating_sub(x.1);
                formulas[a] = formulas[a].saturating_sub(x.2);
                para_len[a] = para_len[a].saturating_sub(x.3);
                if a == 0 {
                    break;
                }
                a = dom.nodes[a].parent;
            }
        }
    }
    Analysis { skip, hidden, text_len, link_len, formulas, para_len, has_tex_scripts, body }
}

fn in_head(dom: &Dom, mut id: NodeId) -> bool {
    while id != 0 {
        id = dom.nodes[id].parent;
        if dom.name(id) == "head" {
            return true;
        }
    }
    false
}

/// The roots to render, in document order: the main container (see the module doc).
pub fn choose_roots(dom: &Dom, a: &Analysis) -> Vec<NodeId> {
    let body = a.body;
    let total = a.text_len[body];
    let n = dom.nodes.len();
    let live = |id: NodeId| !a.skip[id] && a.text_len[id] > 0;
    let mut chosen: Option<NodeId> = None;
    let kinds: [&dyn Fn(NodeId) -> bool; 3] = [
        &|id| dom.attr(id, "itemprop").is_some_and(|v| v.to_ascii_lowercase().contains("articlebody")),
        &|id| dom.name(id) == "article",
        &|id| dom.name(id) == "main" || dom.attr(id, "role") == Some("main"),
    ];
    for kind in kinds {
        let els: Vec<NodeId> = (1..n).filter(|&id| matches!(dom.nodes[id].data, NodeData::Element { .. }) && kind(id) && live(id)).collect();
        let Some(&best) = els.iter().max_by_key(|&&id| a.text_len[id]) else { continue };
        // Enough of the page's text, or (a short article beside long menus and link lists)
        // most of its running text.
        let share = a.text_len[best] as f64 >= 0.25 * total as f64 || a.para_len[best] as f64 >= 0.5 * a.para_len[body] as f64;
        if a.text_len[best] < 150 || !share {
            continue;
        }
        // Several of them sharing the text (forum posts): take their common ancestor.
        let big: Vec<NodeId> = els.iter().copied().filter(|&id| a.text_len[id] as f64 >= 0.3 * a.text_len[best] as f64).collect();
        let outer: Vec<NodeId> = big.iter().copied().filter(|&id| !big.iter().any(|&o| o != id && is_ancestor(dom, o, id))).collect();
        chosen = Some(if outer.len() > 1 { outer.iter().skip(1).fold(outer[0], |acc, &x| lca(dom, acc, x)) } else { best });
        break;
    }
    let top = match chosen {
        Some(c) => c,
        None => readability_top(dom, a).unwrap_or(body),
    };
    // Widen while the parent adds formulas.
    let mut c = top;
    let mut p = top;
    while p != body && p != 0 {
        p = dom.nodes[p].parent;
        let extra = a.formulas[p].saturating_sub(a.formulas[c]);
        if extra >= 1 && extra as f64 >= 0.1 * a.formulas[p] as f64 {
            c = p;
        }
    }
    vec![c]
}

fn is_ancestor(dom: &Dom, anc: NodeId, mut id: NodeId) -> bool {
    while id != 0 {
        id = dom.nodes[id].parent;
        if id == anc {
            return true;
        }
    }
    anc == 0
}

fn lca(dom: &Dom, x: NodeId, y: NodeId) -> NodeId {
    let mut path = Vec::new();
    let mut i = x;
    path.push(i);
    while i != 0 {
        i = dom.nodes[i].parent;
        path.push(i);
    }
    let mut j = y;
    loop {
        if path.contains(&j) {
            return j;
        }
        if j == 0 {
            return 0;
        }
        j = dom.nodes[j].parent;
    }
}

fn direct_text_len(dom: &Dom, a: &Analysis, id: NodeId) -> u32 {
    dom.children(id).iter().filter(|&&c| matches!(dom.nodes[c].data, NodeData::Text(_))).map(|&c| a.text_len[c]).sum()
}

fn class_weight(dom: &Dom, id: NodeId) -> f64 {
    let mut w: f64 = 0.0;
    for v in [dom.attr(id, "class").unwrap_or(""), dom.attr(id, "id").unwrap_or("")] {
        if v.is_empty() {
            continue;
        }
        let s = v.to_ascii_lowercase();
        if ["article", "body", "content", "entry", "main", "page", "post", "text", "blog", "story"].iter().any(|p| s.contains(p)) {
            w += 25.0;
        }
        if ["comment", "meta", "foot", "footer", "sidebar", "sponsor", "share", "related", "widget", "masthead"].iter().any(|p| s.contains(p)) {
            w -= 25.0;
        }
    }
    w.clamp(-25.0, 25.0)
}

fn readability_top(dom: &Dom, a: &Analysis) -> Option<NodeId> {
    let n = dom.nodes.len();
    let mut score = vec![0f64; n];
    let mut is_cand = vec![false; n];
    for id in 1..n {
        if a.skip[id] || a.hidden[id] {
            continue;
        }
        let name = dom.name(id);
        let para = matches!(name, "p" | "pre" | "td" | "blockquote")
            || (matches!(name, "div" | "section" | "li" | "dd") && direct_text_len(dom, a, id) >= 25);
        if !para || a.text_len[id] < 25 {
            continue;
        }
        let commas = dom.text_content(id).matches([',', '，', '、']).count() as f64;
        let s = 1.0 + commas.min(30.0) + (a.text_len[id] as f64 / 100.0).min(3.0);
        let p = dom.nodes[id].parent;
        let g = dom.nodes[p].parent;
        if p != 0 {
            if !is_cand[p] {
                is_cand[p] = true;
                score[p] += class_weight(dom, p);
            }
            score[p] += s;
        }
        if g != 0 {
            if !is_cand[g] {
                is_cand[g] = true;
                score[g] += class_weight(dom, g);
            }
            score[g] += s / 2.0;
        }
    }
    let mut best: Option<(NodeId, f64)> = None;
    for id in 1..n {
        if !is_cand[id] {
            continue;
        }
        let ld = if a.text_len[id] > 0 { a.link_len[id] as f64 / a.text_len[id] as f64 } else { 0.0 };
        let s = score[id] * (1.0 - ld);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((id, s));
        }
    }
    let (top, top_score) = best?;
    // Readability's sibling step, as a climb: when the top candidate's siblings are strong
    // candidates too, the parent is the container.
    let p = dom.nodes[top].parent;
    if p != 0 && p != a.body {
        let strong = dom
            .children(p)
            .iter()
            .filter(|&&c| c != top && is_cand[c] && score[c] * (1.0 - ld_of(a, c)) >= (0.2 * top_score).max(10.0))
            .count();
        if strong >= 1 {
            return Some(p);
        }
    }
    Some(repeated_blocks_container(dom, a, top))
}

/// Thread pages (forum posts, answers, reviews): when the top candidate lies inside one of
/// several sibling blocks of the same kind (same tag and `class`) that each hold a paragraph of
/// running text with little link text, the content is all of them, so their parent is the
/// container. Looked for up to eight levels above `top` (table layouts nest posts deep), never
/// above the body's children.
fn repeated_blocks_container(dom: &Dom, a: &Analysis, top: NodeId) -> NodeId {
    let post = |s: NodeId| !a.skip[s] && a.para_len[s] >= RUNNING_TEXT && ld_of(a, s) < 0.25;
    let mut c = top;
    for _ in 0..8 {
        let p = dom.nodes[c].parent;
        if p == 0 || p == a.body || c == a.body {
            break;
        }
        let (name, class) = (dom.name(c), dom.attr(c, "class").unwrap_or(""));
        if post(c) || c == top {
            let repeats = dom.children(p).iter().filter(|&&s| s != c && dom.name(s) == name && dom.attr(s, "class").unwrap_or("") == class && post(s)).count();
            if repeats >= 1 {
                return p;
            }
        }
        c = p;
    }
    top
}

fn ld_of(a: &Analysis, id: NodeId) -> f64 {
    if a.text_len[id] > 0 {
        a.link_len[id] as f64 / a.text_len[id] as f64
    } else {
        0.0
    }
}
