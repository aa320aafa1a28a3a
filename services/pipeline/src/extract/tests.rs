//! Tests of the extract module on real bytes from ../shared/data (skipped, with a printed reason,
//! when that folder is absent). Snippets are cut from the shared pages at run time, never copied.

use super::*;
use crate::testdata::shared_data_dir;
use std::io::Read;

/// The gunzipped bytes of `rel` under the shared data folder; `None` when the folder is absent.
fn page(rel: &str) -> Option<Vec<u8>> {
    let dir = shared_data_dir()?;
    let f = std::fs::File::open(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(f).read_to_end(&mut out).unwrap();
    Some(out)
}

/// The part of `html` from the first `start` (at or after `from`) to the end of the next `end`.
fn cut<'a>(html: &'a str, from: &str, start: &str, end: &str) -> &'a str {
    let base = html.find(from).unwrap_or_else(|| panic!("{from:?} not in page"));
    let s = base + html[base..].find(start).unwrap_or_else(|| panic!("{start:?} not in page"));
    let e = s + html[s..].find(end).unwrap_or_else(|| panic!("{end:?} not after {start:?}")) + end.len();
    &html[s..e]
}

fn text_of(html: &str) -> String {
    extract(html.as_bytes(), Some("text/html; charset=utf-8")).unwrap().text
}

#[test]
fn tiny_page_layout() {
    let x = extract(
        b"<html><head><title> T  x</title></head><body><div><h2>Head</h2><p>Hello <b>wor</b>ld, a&nbsp;page &amp; more.</p><ul><li>one<li>two</ul><p>Second</p></div></body></html>",
        None,
    )
    .unwrap();
    assert_eq!(x.text, "Head\n\nHello world, a page & more.\n\none\ntwo\n\nSecond");
    assert_eq!(x.title.as_deref(), Some("T x"));
}

#[test]
fn mathjax_v2_script_inline_display_and_rendering_not_duplicated() {
    let Some(b) = page("html-math/math/colah-groups-convolution.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    // A real MathJax v2 page: formulas in `$..$` text and `math/tex` scripts holding macros only.
    let t = extract(html.as_bytes(), None).unwrap().text;
    assert!(!t.contains("\\newcommand"), "macro definitions are not content");
    // Rendered MathJax v2 (Stack Exchange): preview, rendering and assistive MathML must not
    // repeat the script's formula. The span and its script, as cut from the page:
    let Some(b) = page("html-math/nonmath/puzzlingse-duplo-digit.html.gz") else { return };
    let se = String::from_utf8(b).unwrap();
    let snippet = cut(&se, "<body", "<span class=\"MathJax_Preview\"", "</script>");
    let script_pos = snippet.rfind("<script type=\"math/tex\"").unwrap();
    // Replace the (macro-only) script content by a formula, keeping the real rendering markup.
    let body = format!("<p>Let {}x^2{} be.</p>", &snippet[..script_pos + snippet[script_pos..].find('>').unwrap() + 1], "</script>");
    assert_eq!(text_of(&body), "Let $x^2$ be.");
    let display = body.replace("type=\"math/tex\"", "type=\"math/tex; mode=display\"");
    assert_eq!(text_of(&display), "Let\n$$x^2$$\nbe.");
}

#[test]
fn katex_annotation_kept_and_html_rendering_dropped() {
    let Some(b) = page("html-math/math/katex-notes-centraliser.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    let snippet = &html[html[..html.find("G=S_n").unwrap()].rfind("<span class=\"katex\">").unwrap()..];
    let end = snippet.find("<span class=\"katex\">").map(|_| snippet[1..].find("<span class=\"katex\">").unwrap() + 1).unwrap();
    let t = text_of(&format!("<p>Take {} now.</p>", &snippet[..end]));
    assert!(t.starts_with("Take $G=S_n$"), "{t}");
    assert_eq!(t.matches("S_n").count(), 1, "{t}");
}

#[test]
fn wikipedia_mathml_alttext_once_not_fallback_image_again() {
    let Some(b) = page("html-math/math/wikipedia-equicontinuity.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    let el = cut(&html, "<body", "<span class=\"mwe-math-element\">", "</span>");
    // the element: hidden MathML span + fallback <img alt="{\displaystyle ...}">, up to its end
    let start = html.find(el).unwrap();
    let tail = &html[start..];
    let img_end = tail.find("<img").map(|i| i + tail[i..].find('>').unwrap() + 1).unwrap();
    let elem = &tail[..img_end];
    assert!(elem.contains("display: none") && elem.contains("alttext=") && elem.contains("mwe-math-fallback-image"));
    let t = text_of(&format!("<p>where {elem}</span> holds.</p>"));
    assert_eq!(t, "where $d_{Y}(f(y),f(x))<\\epsilon$ holds.");
    // The whole page: every formula is there once (no `{\displaystyle` wrappers left).
    let full = extract(html.as_bytes(), None).unwrap();
    assert!(full.formulas >= 40, "{}", full.formulas);
    assert!(!full.text.contains("{\\displaystyle"));
}

#[test]
fn presentation_mathml_converted_and_a_neq_0_not_run_together() {
    let Some(b) = page("html-math/math/mathjax-demo-mml-chtml-source.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    let p = cut(&html, "<body", "<p>", "</p>");
    let t = text_of(p);
    assert!(t.starts_with("When $a\\neq 0$, there are two solutions to $ax^{2}+bx+c=0$ and they are\n$$x=\\frac{-b\\pm \\sqrt{b^{2}-4ac}}{2a}"), "{t}");
    let full = extract(html.as_bytes(), None).unwrap().text;
    assert!(full.contains("\\begin{matrix}") && full.contains("\\sum_{k=1}^{n}"), "{full}");
}

#[test]
fn tex_in_formula_image_alt() {
    let Some(b) = page("html-math/math/tao-285g-lecture12-ricci-flow.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    let img = cut(&html, "<body", "<img src=\"https://s0.wp.com/latex.php?latex=%5Ckappa", ">");
    assert_eq!(text_of(&format!("<p>a {img}-noncollapsing flow</p>")), "a $\\kappa$-noncollapsing flow");
    let Some(b) = page("html-math/math/mhf-integral-question.html.gz") else { return };
    let html = String::from_utf8(b).unwrap();
    let t = extract(html.as_bytes(), None).unwrap().text;
    assert!(t.contains("$z = \\frac{1}{2}\\sinh \\theta$"), "codecogs alt kept");
}

#[test]
fn discourse_content_in_noscript_is_kept() {
    let Some(b) = page("html-math/nonmath/discourse-straightdope-movies.html.gz") else { return };
    let x = extract(&b, None).unwrap();
    assert!(x.text.contains("I saw 101 movies released in the year 2024"), "{}", &x.text[..300.min(x.text.len())]);
    assert!(!x.text.contains("googletagmanager"));
}

#[test]
fn charset_from_header_meta_bom_and_detection() {
    let Some(b) = page("html-math/nonmath/zhwiki-xiongan-new-area.html.gz") else { return };
    let reference = extract(&b, None).unwrap();
    assert_eq!((reference.charset, reference.charset_source), ("UTF-8", CharsetSource::Meta));
    assert!(reference.text.contains("雄安新区"));
    let hdr = extract(&b, Some("text/html; charset=UTF-8")).unwrap();
    assert_eq!(hdr.charset_source, CharsetSource::Header);
    // Re-encoded as GBK without the meta declaration: chardetng must find GB18030/GBK.
    let html = String::from_utf8(b.clone()).unwrap().replacen("<meta charset=\"UTF-8\">", "", 1);
    let (gbk, _, _) = encoding_rs::GBK.encode(&html);
    let det = extract(&gbk, None).unwrap();
    assert_eq!((det.charset, det.charset_source), ("GBK", CharsetSource::Detected));
    assert_eq!(det.text, reference.text);
    // The same bytes with a legacy `http-equiv` declaration of gb2312 (a GBK label).
    let declared = [&b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">"[..], &gbk].concat();
    let met = extract(&declared, None).unwrap();
    assert_eq!((met.charset, met.charset_source), ("GBK", CharsetSource::Meta));
    // A header naming the wrong charset wins (it is the transport's word), garbling the text.
    let wrong = extract(&gbk, Some("text/html; charset=windows-1251")).unwrap();
    assert_eq!(wrong.charset, "windows-1251");
    assert!(!wrong.text.contains("雄安新区"));
    // A BOM beats a contradicting meta.
    let bom = [&b"\xEF\xBB\xBF"[..], &b"<meta charset=windows-1252><p>\xC3\xA9t\xC3\xA9"[..]].concat();
    let x = extract(&bom, None).unwrap();
    assert_eq!((x.charset, x.charset_source, x.text.as_str()), ("UTF-8", CharsetSource::Bom, "été"));
    // Arabic re-encoded as windows-1256, undeclared.
    let Some(ar) = page("html-math/math/wikipedia-ar-mathematics.html.gz") else { return };
    let ar_ref = extract(&ar, None).unwrap();
    let ar_html = String::from_utf8(ar).unwrap().replacen("<meta charset=\"UTF-8\">", "", 1).replacen("<meta charset=\"utf-8\"/>", "", 1);
    let (w1256, _, _) = encoding_rs::WINDOWS_1256.encode(&ar_html);
    let ar_det = extract(&w1256, None).unwrap();
    assert_eq!((ar_det.charset, ar_det.charset_source), ("windows-1256", CharsetSource::Detected));
    assert_eq!(ar_det.text.split_whitespace().take(50).collect::<Vec<_>>(), ar_ref.text.split_whitespace().take(50).collect::<Vec<_>>());
}

/// Han characters in `s`.
fn han(s: &str) -> usize {
    s.chars().filter(|&c| crate::segment::is_han(c)).count()
}

#[test]
fn real_gbk_and_gb2312_crawl_pages_decode_without_replacement() {
    let Some(dir) = shared_data_dir() else { return };
    let f = std::fs::File::open(dir.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz")).unwrap();
    let (mut legacy, mut chinese_text) = (Vec::new(), 0);
    for p in crate::page::pages(std::io::BufReader::new(f)) {
        let (enc, _) = charset::sniff(&p.body, p.content_type.as_deref());
        if enc != encoding_rs::GBK {
            continue;
        }
        legacy.push(p.url.clone());
        // Every byte sequence is a GBK/GB18030 character: nothing replaced, anywhere.
        assert!(!charset::decode(&p.body, enc).contains('\u{FFFD}'), "{}: replacement characters", p.url);
        let Ok(x) = extract(&p.body, p.content_type.as_deref()) else { continue };
        assert_eq!(x.charset, "GBK", "{}", p.url);
        let title = x.title.unwrap_or_default();
        assert!(han(&title) >= 4, "{}: title {title:?} is not Chinese", p.url);
        if han(&x.text) >= 20 {
            chinese_text += 1;
        }
    }
    // Some of these pages carry their main text in English under Chinese menus and titles.
    assert!(chinese_text >= 3, "{chinese_text} of {legacy:?} have Chinese main text");
    // 3 gbk and 2 gb2312 pages, in header or meta (gb2312 is a GBK label); one gb2312 page has
    // a body too short to extract from.
    assert!(legacy.len() >= 4, "{legacy:?}");
    assert!(legacy.iter().any(|u| u.contains("0760.jxtdw.com")), "{legacy:?}");
}

#[test]
fn gb2312_declared_pages_whose_bytes_are_utf8_decode_as_utf8() {
    let Some(dir) = shared_data_dir() else { return };
    let idx = std::fs::read_to_string(dir.join("zh/html/INDEX.tsv")).unwrap();
    let mut n = 0;
    for line in idx.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[5] != "gb2312 declared; bytes are UTF-8" {
            continue;
        }
        let b = page(&format!("zh/html/{}", cols[0])).unwrap();
        let x = extract(&b, None).unwrap();
        assert_eq!((x.charset, x.charset_source), ("UTF-8", CharsetSource::Content), "{}", cols[0]);
        // The title the INDEX gives (read from the UTF-8 bytes) is the title extracted.
        assert_eq!(x.title.as_deref().map(|t| t.split_whitespace().collect::<String>()), Some(cols[7].split_whitespace().collect::<String>()), "{}", cols[0]);
        assert!(han(&x.text) >= 100, "{}", cols[0]);
        n += 1;
    }
    assert_eq!(n, 5, "pages marked gb2312-declared UTF-8 in zh/html/INDEX.tsv");
}

#[test]
fn big5_and_gb18030_pages_decode_declared_and_detected() {
    // Traditional Chinese (a Taiwanese PIXNET blog) as Big5; unmappable characters become
    // numeric references, which decode back, so the text must be the UTF-8 page's text.
    let Some(b) = page("zh/html/nonmath/readability-pixnet-camping.html.gz") else { return };
    let reference = extract(&b, None).unwrap();
    assert!(han(&reference.text) > 300);
    let html = String::from_utf8(b).unwrap();
    let undeclared = html.replace("charset=utf-8", "").replace("charset=\"utf-8\"", "").replace("charset=UTF-8", "").replace("charset=\"UTF-8\"", "");
    assert!(charset::meta_charset(undeclared.as_bytes()).is_none(), "the page's declaration was not removed");
    let (big5, _, _) = encoding_rs::BIG5.encode(&undeclared);
    let declared = [&b"<meta charset=big5>"[..], &big5].concat();
    let x = extract(&declared, None).unwrap();
    assert_eq!((x.charset, x.charset_source), ("Big5", CharsetSource::Meta));
    assert_eq!(x.text, reference.text);
    let det = extract(&big5, None).unwrap();
    assert_eq!((det.charset, det.charset_source), ("Big5", CharsetSource::Detected));
    assert_eq!(det.text, reference.text);
    let hdr = extract(&big5, Some("text/html; charset=big5-hkscs")).unwrap();
    assert_eq!((hdr.charset, hdr.text.as_str()), ("Big5", reference.text.as_str()));

    // Simplified Chinese as GB18030, with characters outside GBK (four-byte sequences: an
    // Extension B character and an emoji) added in the title.
    let Some(b) = page("zh/html/nonmath/gne-people-culture.html.gz") else { return };
    let html = String::from_utf8(b).unwrap().replacen("charset=GB2312", "charset=gb18030", 1).replacen("<title>", "<title>𠮷😀", 1);
    assert!(html.contains("charset=gb18030") && html.contains("𠮷😀"));
    let reference = extract(html.as_bytes(), Some("text/html; charset=utf-8")).unwrap();
    let (gb, _, unmappable) = encoding_rs::GB18030.encode(&html);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gb).is_err());
    let (enc, _) = charset::sniff(&gb, None);
    assert_eq!(charset::decode(&gb, enc), html, "GB18030 four-byte sequences decode");
    let x = extract(&gb, None).unwrap();
    assert!(x.title.as_deref().is_some_and(|t| t.starts_with("𠮷😀")), "{:?}", x.title);
    assert_eq!((x.charset, x.charset_source), ("gb18030", CharsetSource::Meta));
    assert_eq!(x.text, reference.text);
}

#[test]
fn unusable_pages_are_errors_with_reasons() {
    assert_eq!(extract(b"", None).unwrap_err().reason(), "empty_body");
    assert_eq!(extract(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None).unwrap_err().reason(), "not_text");
    assert_eq!(extract(b"<html>x</html>", Some("image/png")).unwrap_err().reason(), "not_text");
    assert_eq!(extract(b"<html><head><script>var a=1;</script></head><body><nav><a href=/>Home</a></nav></body></html>", None).unwrap_err().reason(), "empty_text");
}

#[test]
fn truncated_and_mangled_real_pages_never_panic() {
    let Some(b) = page("html-math/math/wikipedia-en-m-variance.html.gz") else { return };
    for i in 1..40 {
        let cut_at = b.len() * i / 40;
        let _ = extract(&b[..cut_at], None);
        // drop a window of bytes, including through UTF-8 sequences and tags
        let mangled = [&b[..cut_at / 2], &b[cut_at..]].concat();
        let _ = extract(&mangled, None);
    }
}

#[test]
fn extracted_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Extracted>();
    assert_send_sync::<ExtractError>();
}

#[test]
fn evaluation_meets_goals_on_shared_pages() {
    let Some(dir) = shared_data_dir() else { return };
    let report = eval::evaluate(&dir).unwrap();
    println!("{report}");
    assert_eq!(report.pages.iter().filter(|p| p.f1.is_some()).count(), 127);
    assert!(report.math_pages >= 35, "{}", report.math_pages);
    assert!(report.mean_f1 >= 0.97, "mean token F1 {:.4}", report.mean_f1);
    // Short articles beside long boilerplate: 0.750 before link density, the size protection
    // of boilerplate classes and the semantic container's share looked at running text.
    assert!(report.short_f1 >= 0.78, "short-article token F1 {:.4}", report.short_f1);
    assert!(report.formula_recall >= 0.90, "formula recall {:.4}", report.formula_recall);
    // Chinese article and forum pages: 0.809 before CJK-weighted text lengths and thread pages
    // (forum 0.609); trafilatura gets 0.858, resiliparse 0.776 on the same pages and units.
    let zh = report.zh.as_ref().expect("shared data has zh/html-extraction");
    assert_eq!(zh.pages.0 + zh.pages.1, 56);
    assert!(zh.char_f1 >= 0.83, "Chinese char F1 {:.4}", zh.char_f1);
    assert!(zh.forum_f1 >= 0.66, "Chinese forum char F1 {:.4}", zh.forum_f1);
}

#[test]
fn char_f1_counts_characters_and_ascii_words() {
    let units: Vec<String> = eval::char_units("数学 Math2 题, x").into_iter().map(|u| u.into_owned()).collect();
    assert_eq!(units, ["数", "学", "math2", "题", ",", "x"]);
    assert_eq!(eval::char_f1("", ""), 1.0);
    assert_eq!(eval::char_f1("数学", "语文"), 0.0);
    // Whitespace means nothing; a missing half halves recall: P 1, R 0.5, F1 2/3.
    assert_eq!(eval::char_f1("数 学", "数学"), 1.0);
    assert!((eval::char_f1("数学", "数学题目") - 2.0 / 3.0).abs() < 1e-12);
}

/// A forum thread: posts in sibling blocks of one class (`post` is a comment-like class), a
/// header and a sidebar of links; the page has no article outside the thread.
fn forum_page(lang_zh: bool) -> String {
    let post = |i: usize| {
        let text = if lang_zh {
            format!("第{i}楼回复：这道题可以先设未知数，然后根据题目给出的条件列出方程，解方程以后再检验答案是否符合实际意义。")
        } else {
            format!("Reply {i}: set the unknown first, then write the equation the conditions give, solve it, and check that the answer makes sense for the problem.")
        };
        format!("<div class=\"post reply\"><div class=\"author\"><a href=\"/u/{i}\">user{i}</a></div><div class=\"content\"><p>{text}</p></div></div>")
    };
    let posts: String = (1..=4).map(post).collect();
    let links: String = (1..=20).map(|i| format!("<li><a href=\"/t/{i}\">Topic number {i} in the forum</a></li>")).collect();
    format!("<html><head><title>thread</title></head><body><div class=\"header\"><a href=\"/\">Home</a></div><div class=\"main\"><h1>Thread</h1><div class=\"thread\">{posts}</div></div><div class=\"sidebar\"><ul>{links}</ul></div></body></html>")
}

#[test]
fn thread_pages_keep_every_post_and_articles_drop_their_comments() {
    for zh in [false, true] {
        let page = forum_page(zh);
        let text = text_of(&page);
        for i in 1..=4 {
            let marker = if zh { format!("第{i}楼") } else { format!("Reply {i}:") };
            assert!(text.contains(&marker), "post {i} missing (zh {zh}):\n{text}");
        }
        assert!(!text.contains("Topic number"), "sidebar kept (zh {zh}):\n{text}");
    }
    // The same posts under a real article are its comments, not its content.
    let article: String = (0..6).map(|i| format!("<p>Paragraph {i} of the article explains how a linear equation in one unknown is solved, step by step, with a worked example and a check.</p>")).collect();
    let page = forum_page(false).replace("<h1>Thread</h1>", &format!("<h1>Article</h1><article>{article}</article>"));
    let text = text_of(&page);
    assert!(text.contains("Paragraph 5 of the article"), "{text}");
    assert!(!text.contains("Reply 1:"), "comments kept under an article:\n{text}");
}

#[test]
fn text_formula_count_ignores_prices() {
    use super::boilerplate::count_text_formulas;
    assert_eq!(count_text_formulas("it cost $5 and then $10 more"), 0);
    assert_eq!(count_text_formulas("let $x$ be, with $a^2+b^2=c^2$ and $$\\sum_i x_i$$ or \\(y\\)"), 4);
}

/// The formula images of the `html-math` pages that have them carry their TeX twice, in `alt`
/// and in the renderer URL (WordPress `latex.php?latex=`, CodeCogs `png.latex?`). With every
/// `alt` removed (the rule: ` alt=` becomes ` data-alt=` throughout the page), the text is the
/// same as with them, and holds formulas a reader sees on the page.
#[test]
fn formula_images_without_alt_keep_the_tex_of_their_url() {
    let cases: [(&str, &[&str]); 6] = [
        ("html-math/math/tao-285g-lecture12-ricci-flow.html.gz", &["$t \\mapsto (M,g(t))$", "$(t_0,x_0)$", "$r_0 > 0$"]),
        ("html-math/math/cp4space-exceptional-jordan-algebra.html.gz", &["$\\lambda A + \\mu B$", "$\\lambda, \\mu \\in \\mathbb{R}$"]),
        ("html-math/math/geoenergymath-chandler-wobble.html.gz", &["$2omega_0, 2omega_0-4pi, 2omega_0-8pi, ... 2omega_0-52pi$"]),
        ("html-math/math/mhf-distance-speed-time.html.gz", &["$\\frac{d}{v_1} + \\frac{d}{v_2} = \\frac{23}{4}$", "$\\frac{2d}{v_2} = \\frac{15}{4}$"]),
        ("html-math/math/mhf-continuous-functions.html.gz", &["$\\lim_{n\\rightarrow\\infty}{x^n} =0$", "$\\lim_{n\\rightarrow\\infty}{x^n} =1$"]),
        ("html-math/math/mhf-integral-question.html.gz", &["$z = \\frac{1}{2}\\sinh \\theta$"]),
    ];
    for (rel, formulas) in cases {
        let Some(body) = page(rel) else { return };
        let html = String::from_utf8(body).unwrap();
        let stripped = html.replace(" alt=", " data-alt=");
        let (with_alt, without) = (text_of(&html), text_of(&stripped));
        for f in formulas {
            assert!(without.contains(f), "{rel}: {f} missing from the text without alt");
        }
        assert_eq!(with_alt, without, "{rel}");
    }
}

/// Short articles beside long boilerplate ([`eval::short_article_variant`] of real pages: the
/// article cut to its first paragraph or two): a comment thread (macrumors), hover cards of
/// links inside the paragraph (thehill), link lists and a share bar around the story (BBC), a
/// body whose class also says `overlay` (billboard), a page builder's rows (CNBC). Each came out
/// as the wrong block or no text at all before.
#[test]
fn short_articles_beside_boilerplate_are_found() {
    let Some(dir) = shared_data_dir() else { return };
    let gt: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap()).unwrap();
    for key in [
        "232a43fb15abde807427b2a7bf4f772e27b8760554370956d8291df4e8166dbf",
        "6ebac05f637ece8aa57c298a2a5e3a8047f546f855d0f29cc683cea60ce85c85",
        "c7e39ac49fa1235f5d50f83bf2444248bd3aa4e6df044377916c812dd109ba23",
        "9cb8224b660f36c932823ab613fb76a07928fcbc41956c4c1f96f4ecab9202aa",
        "ffc109d474fdee1a59fa554df8b09643f4a7d45b23eceabad66f0712c3f7daed",
    ] {
        let Some(body) = page(&format!("html-extraction/html/{key}.html.gz")) else { return };
        let truth = gt[key]["articleBody"].as_str().unwrap();
        let (short, short_truth) = eval::short_article_variant(&body, truth);
        assert!(short.len() < String::from_utf8_lossy(&body).len() && short_truth.len() < truth.len(), "{key}: nothing was cut");
        let text = text_of(&short);
        let f1 = eval::token_f1(&text, &short_truth);
        let lead: String = short_truth.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
        assert!(f1 >= 0.75 && math::collapse_ws(&text).contains(&lead), "{key}: F1 {f1:.3}, {lead:?} not in:\n{text}");
    }
}

/// The short-article rule cuts the article and only the article: the reference keeps its first
/// paragraph (two when the first is under 200 characters), the page loses the text of the
/// rest, and the page's menus and footer stay.
#[test]
fn short_article_variant_cuts_the_article_only() {
    let Some(dir) = shared_data_dir() else { return };
    let key = "c7e39ac49fa1235f5d50f83bf2444248bd3aa4e6df044377916c812dd109ba23";
    let gt: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap()).unwrap();
    let truth = gt[key]["articleBody"].as_str().unwrap();
    let Some(body) = page(&format!("html-extraction/html/{key}.html.gz")) else { return };
    let (short, short_truth) = eval::short_article_variant(&body, truth);
    let paras: Vec<&str> = truth.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(paras[0].chars().count() < 200);
    assert_eq!(short_truth, paras[..2].join("\n"));
    let page = String::from_utf8_lossy(&body);
    let third = paras[2];
    assert!(page.contains(third) && !short.contains(third), "the third paragraph is cut");
    assert!(short.contains(paras[0]) && short.contains(paras[1]));
    // Boilerplate outside the article stays: the last text run of the page is unchanged.
    let tail = |s: &str| s.rsplit('>').find(|t| t.trim().len() > 10).unwrap_or("").trim().to_string();
    assert_eq!(tail(&short), tail(&page));
}
