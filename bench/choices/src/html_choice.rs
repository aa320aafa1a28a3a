//! Choice 2: the HTML layer. Our tokenizer and arena tree (`extract::dom`) against lol_html
//! (streaming, text chunk handlers) and html5ever (tokenizer alone, and the full tree builder into
//! an `RcDom`), all on the same UTF-8 text (the pages decoded once with our charset detection).
//!
//! Two measures: parse time alone, and whole-page text (every text node outside script, style and
//! the other raw-text elements, a line break around block elements), whose token F1 and formula
//! recall are computed exactly as `corpusminer_pipeline::extract::eval` does. Our full extractor
//! (main content, mathematics as LaTeX) is the reference row.

use crate::input::{decode, HtmlPage};
use crate::measure::{best_of, f, mb, Table};
use corpusminer_pipeline::extract::{dom, entities, eval, extract, math::collapse_ws};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tokenizer::{
    BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use std::cell::{Cell, RefCell};
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

/// Elements whose content is not page text: script, style and the other raw-text and RCDATA
/// elements of WHATWG HTML §13.1.2 (as lol_html classifies them), plus `template`.
const SKIP: &[&str] = &[
    "script", "style", "title", "textarea", "noscript", "template", "xmp", "iframe", "noembed",
    "noframes",
];

/// Elements that start and end a line of text.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// What a tree node is, for the whole-page text walk.
enum Kind<'a> {
    Element(&'a str),
    Text,
    Other,
}

/// A parsed tree the whole-page text walk can read.
trait Tree {
    type Node: Clone;
    fn kind<'a>(&'a self, n: &'a Self::Node) -> Kind<'a>;
    fn push_text(&self, n: &Self::Node, out: &mut String);
    fn child(&self, n: &Self::Node, i: usize) -> Option<Self::Node>;
}

impl Tree for dom::Dom<'_> {
    type Node = dom::NodeId;
    fn kind<'a>(&'a self, n: &'a dom::NodeId) -> Kind<'a> {
        match &self.nodes[*n].data {
            dom::NodeData::Element { name, .. } => Kind::Element(name),
            dom::NodeData::Text(_) => Kind::Text,
            dom::NodeData::Document => Kind::Other,
        }
    }
    fn push_text(&self, n: &dom::NodeId, out: &mut String) {
        if let dom::NodeData::Text(t) = &self.nodes[*n].data {
            out.push_str(t);
        }
    }
    fn child(&self, n: &dom::NodeId, i: usize) -> Option<dom::NodeId> {
        self.children(*n).get(i).copied()
    }
}

/// html5ever's reference DOM.
struct Rcd;

impl Tree for Rcd {
    type Node = Handle;
    fn kind<'a>(&'a self, n: &'a Handle) -> Kind<'a> {
        match &n.data {
            NodeData::Element { name, .. } => Kind::Element(&name.local),
            NodeData::Text { .. } => Kind::Text,
            _ => Kind::Other,
        }
    }
    fn push_text(&self, n: &Handle, out: &mut String) {
        if let NodeData::Text { contents } = &n.data {
            out.push_str(&contents.borrow());
        }
    }
    fn child(&self, n: &Handle, i: usize) -> Option<Handle> {
        n.children.borrow().get(i).cloned()
    }
}

/// Appends the whole-page text under `n` to `out`.
fn walk<T: Tree>(t: &T, n: &T::Node, out: &mut String) {
    let block = match t.kind(n) {
        Kind::Text => return t.push_text(n, out),
        Kind::Element(name) if SKIP.contains(&name) => return,
        Kind::Element(name) => BLOCK.contains(&name),
        Kind::Other => false,
    };
    if block {
        out.push('\n');
    }
    let mut i = 0;
    while let Some(c) = t.child(n, i) {
        walk(t, &c, out);
        i += 1;
    }
    if block {
        out.push('\n');
    }
}

/// Our tokenizer and tree: parse only.
fn ours_parse(html: &str) -> usize {
    dom::Dom::parse(html).nodes.len()
}

/// Our tokenizer and tree, whole-page text.
fn ours_text(html: &str) -> String {
    let d = dom::Dom::parse(html);
    let mut out = String::new();
    walk(&d, &0, &mut out);
    out
}

/// html5ever's tree builder into an RcDom: parse only.
fn rcdom_parse(html: &str) -> usize {
    let d = html5ever::parse_document(RcDom::default(), Default::default()).one(html);
    let n = d.document.children.borrow().len();
    n
}

/// html5ever RcDom, whole-page text.
fn rcdom_text(html: &str) -> String {
    let d = html5ever::parse_document(RcDom::default(), Default::default()).one(html);
    let mut out = String::new();
    walk(&Rcd, &d.document, &mut out);
    out
}

/// A token sink that only counts tokens.
struct CountSink(Cell<usize>);

impl TokenSink for CountSink {
    type Handle = ();
    fn process_token(&self, _token: Token, _line: u64) -> TokenSinkResult<()> {
        self.0.set(self.0.get() + 1);
        TokenSinkResult::Continue
    }
}

/// html5ever's tokenizer alone (no tree builder, so script content is tokenized as markup).
fn html5ever_tokenize(html: &str) -> usize {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tok = Tokenizer::new(CountSink(Cell::new(0)), TokenizerOpts::default());
    let _ = tok.feed(&input);
    tok.end();
    tok.sink.0.get()
}

/// lol_html streaming over the page, a text handler summing the text chunks: parse only.
fn lol_parse(html: &str) -> usize {
    let mut total = 0usize;
    {
        let settings =
            lol_html::Settings::new().append_document_content_handler(lol_html::doc_text!(|t| {
                total += t.as_str().len();
                Ok(())
            }));
        let mut rw = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
        rw.write(html.as_bytes())
            .expect("lol_html never fails without handlers that fail");
        rw.end().expect("lol_html end");
    }
    total
}

/// lol_html, whole-page text: `Data` text chunks (entities decoded afterwards with our decoder:
/// lol_html passes text through as it is), a line break at each block element's start and end.
fn lol_text(html: &str) -> String {
    let out = Rc::new(RefCell::new(String::new()));
    {
        let (o1, o2) = (out.clone(), out.clone());
        let settings = lol_html::Settings::new()
            .append_element_content_handler(lol_html::element!(BLOCK_SELECTOR, move |el| {
                o1.borrow_mut().push('\n');
                let o = o1.clone();
                if let Some(h) = el.end_tag_handlers() {
                    let end: lol_html::EndTagHandler<'static> = Box::new(move |_| {
                        o.borrow_mut().push('\n');
                        Ok(())
                    });
                    h.push(end);
                }
                Ok(())
            }))
            .append_document_content_handler(lol_html::doc_text!(move |t| {
                if matches!(
                    t.text_type(),
                    lol_html::html_content::TextType::Data
                        | lol_html::html_content::TextType::CDataSection
                ) {
                    o2.borrow_mut().push_str(t.as_str());
                }
                Ok(())
            }));
        let mut rw = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
        rw.write(html.as_bytes()).expect("lol_html write");
        rw.end().expect("lol_html end");
    }
    let raw = out.borrow();
    entities::decode(&raw, false).into_owned()
}

/// [`BLOCK`] as a CSS selector list.
const BLOCK_SELECTOR: &str = "address, article, aside, blockquote, br, dd, div, dl, dt, figcaption, figure, footer, form, h1, \
     h2, h3, h4, h5, h6, header, hr, li, main, nav, ol, p, pre, section, table, td, th, tr, ul";

/// A text producer over decoded HTML, or `None` for our extractor, which decodes bytes itself.
type TextFn = fn(&str) -> String;

/// Token F1 over the `html-extraction` pages and formula recall over the `html-math` math pages,
/// computed as `extract::eval::evaluate` does: (mean F1, mean formula recall, math pages).
fn quality(data: &Path, text: Option<TextFn>) -> (f64, f64, usize) {
    let produce = |body: &[u8]| -> Option<String> {
        match text {
            Some(tf) => Some(tf(&decode(body, None))),
            None => extract(body, None).ok().map(|x| x.text),
        }
    };
    let gt_bytes =
        std::fs::read(data.join("html-extraction/ground-truth.json")).expect("ground-truth.json");
    let gt: serde_json::Value = serde_json::from_slice(&gt_bytes).expect("ground truth is JSON");
    let gt = gt.as_object().expect("ground truth is an object");
    let mut f1s = Vec::new();
    for (key, v) in gt {
        let body = read_gz(
            &data
                .join("html-extraction/html")
                .join(format!("{key}.html.gz")),
        );
        let truth = v["articleBody"].as_str().unwrap_or("");
        f1s.push(eval::token_f1(&produce(&body).unwrap_or_default(), truth));
    }
    let idx = std::fs::read_to_string(data.join("html-math/INDEX.tsv")).expect("INDEX.tsv");
    let mut recalls = Vec::new();
    for line in idx.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 || cols[1] != "math" {
            continue;
        }
        let body = read_gz(&data.join("html-math").join(cols[0]));
        let source = eval::source_formulas(&String::from_utf8_lossy(&body));
        if source.is_empty() {
            continue;
        }
        let ours = collapse_ws(&produce(&body).unwrap_or_default());
        recalls.push(
            source.iter().filter(|s| ours.contains(s.as_str())).count() as f64
                / source.len() as f64,
        );
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    (mean(&f1s), mean(&recalls), recalls.len())
}

fn read_gz(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).expect("page file"))
        .read_to_end(&mut out)
        .expect("page gzip");
    out
}

/// The HTML table: pages/s and MB/s per CPU-second over the minicrawl pages, best of `runs`;
/// F1 and formula recall on the labelled pages unless `quick`.
pub fn table(pages: &[HtmlPage], data: &Path, runs: usize, quick: bool) -> Table {
    let mut t = Table::new(
        "2. HTML layer, one thread (minicrawl HTML pages, decoded once to UTF-8)",
        &[
            "layer",
            "work",
            "pages/s",
            "MB/s",
            "token F1",
            "formula recall",
        ],
    );
    let bytes: u64 = pages.iter().map(|p| p.html.len() as u64).sum();
    type Parse = fn(&str) -> usize;
    let parse_rows: [(&str, Parse); 4] = [
        ("ours: extract::dom (tokenizer + arena tree)", ours_parse),
        ("lol_html 3 (streaming, doc text handler)", lol_parse),
        (
            "html5ever 0.40 tokenizer only (no tree builder)",
            html5ever_tokenize,
        ),
        (
            "html5ever 0.40 + markup5ever_rcdom (full tree)",
            rcdom_parse,
        ),
    ];
    for (name, run) in parse_rows {
        let (_, tm) = best_of(runs, || pages.iter().map(|p| run(&p.html)).sum::<usize>());
        t.row(vec![
            name.into(),
            "parse".into(),
            f(tm.per_cpu_s(pages.len() as f64), 0),
            f(tm.per_cpu_s(mb(bytes)), 1),
            "-".into(),
            "-".into(),
        ]);
    }
    let text_rows: [(&str, Option<TextFn>); 4] = [
        ("ours: extract::dom", Some(ours_text)),
        ("lol_html 3", Some(lol_text)),
        ("html5ever 0.40 + RcDom", Some(rcdom_text)),
        ("ours: extract::extract (reference)", None),
    ];
    let mut math_pages = 0;
    for (name, tf) in text_rows {
        let (_, tm) = match tf {
            Some(tf) => best_of(runs, || {
                pages.iter().map(|p| tf(&p.html).len()).sum::<usize>()
            }),
            None => best_of(runs, || {
                pages
                    .iter()
                    .map(|p| {
                        extract(&p.body, p.content_type.as_deref()).map_or(0, |x| x.text.len())
                    })
                    .sum::<usize>()
            }),
        };
        let (f1, recall) = if quick {
            ("-".to_string(), "-".to_string())
        } else {
            let (f1, r, m) = quality(data, tf);
            math_pages = m;
            (f(f1, 3), f(r, 3))
        };
        let work = if tf.is_some() {
            "parse + whole-page text"
        } else {
            "charset + parse + main content + math"
        };
        t.row(vec![
            name.into(),
            work.into(),
            f(tm.per_cpu_s(pages.len() as f64), 0),
            f(tm.per_cpu_s(mb(bytes)), 1),
            f1,
            recall,
        ]);
    }
    if !quick {
        match eval::evaluate(data) {
            Ok(r) => t.note(format!(
                "Check: extract::eval::evaluate (the `eval-extraction` command) gives token F1 {:.3} and formula recall {:.3} \
                 for our extractor.",
                r.mean_f1, r.formula_recall
            )),
            Err(e) => t.note(format!("Check: extract::eval::evaluate failed: {e}")),
        }
    }
    t.note(format!(
        "Timing input: {} HTML pages, {:.1} MB of UTF-8, per CPU-second (best of {runs}); the reference row starts from the \
         raw body (charset detection and decoding included). Token F1: html-extraction articleBody, averaged over pages; \
         formula recall: share of the TeX formulas in the source found in the text, over {math_pages} html-math math pages \
         (extract::eval's measures). Whole-page text skips {} and breaks lines at block elements.",
        pages.len(),
        mb(bytes),
        SKIP.join(", ")
    ));
    t
}
