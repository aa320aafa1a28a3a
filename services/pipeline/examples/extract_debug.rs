//! Debug aid: prints the big elements of a page with their analysis (text length, skip, hidden)
//! and the chosen container. Usage: `--example extract_debug FILE.html.gz`
use corpusminer_pipeline::extract::{boilerplate, charset, dom::Dom};
use std::io::Read;

fn main() {
    let p = std::env::args().nth(1).expect("file");
    let mut body = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_end(&mut body).unwrap();
    let (enc, _) = charset::sniff(&body, None);
    let html = charset::decode(&body, enc);
    let dom = Dom::parse(&html);
    let a = boilerplate::analyse(&dom);
    let total = a.text_len[a.body].max(1);
    for id in 1..dom.nodes.len() {
        let mut depth = 0;
        let mut x = id;
        while x != 0 {
            x = dom.nodes[x].parent;
            depth += 1;
        }
        let raw_big = !dom.name(id).is_empty() && a.text_len[id] * 20 > total;
        if raw_big || (!dom.name(id).is_empty() && depth < 6) {
            println!(
                "{:indent$}{} #{} .{} len={} link={} f={} skip={} hidden={}",
                "",
                dom.name(id),
                dom.attr(id, "id").unwrap_or(""),
                dom.attr(id, "class").unwrap_or(""),
                a.text_len[id],
                a.link_len[id],
                a.formulas[id],
                a.skip[id],
                a.hidden[id],
                indent = depth.min(40)
            );
        }
    }
    let roots = boilerplate::choose_roots(&dom, &a);
    for r in roots {
        println!("ROOT {} #{} .{}", dom.name(r), dom.attr(r, "id").unwrap_or(""), dom.attr(r, "class").unwrap_or(""));
    }
}
