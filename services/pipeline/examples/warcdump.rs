//! Prints, for each WARC file given, its records by type, skip reasons and page counters.
//! `cargo run --release -p corpusminer-pipeline --example warcdump -- FILE...`
use corpusminer_pipeline::page::pages;
use corpusminer_pipeline::warc::{ReadEvent, WarcReader};

fn main() {
    for path in std::env::args().skip(1) {
        let f = std::fs::File::open(&path).expect("open");
        let mut n = 0;
        for ev in WarcReader::new(f) {
            match ev {
                ReadEvent::Record(r) => {
                    n += 1;
                    if std::env::var_os("VERBOSE").is_some() {
                        println!(
                            "  rec {:?} v{} off={} len={} whole={} block={}",
                            r.warc_type(),
                            r.version,
                            r.offset,
                            r.length,
                            r.whole_members,
                            r.block().len()
                        );
                    }
                }
                ReadEvent::Skip {
                    reason,
                    offset,
                    detail,
                } => println!("  skip {reason} @{offset}: {detail}"),
            }
        }
        let mut p = pages(std::fs::File::open(&path).expect("open"));
        let np = p.by_ref().count();
        println!("{path}: records={n} pages={np} {:?}", p.counters());
    }
}
