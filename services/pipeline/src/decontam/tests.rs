//! Tests on the real benchmarks and article texts of `shared/data`.

use super::words::normalized_words;
use super::*;
use crate::testdata::shared_data_dir;
use std::io::BufReader;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

/// The default index (GSM8K test, MATH test, MATH-500), built once per test binary.
fn default_index() -> Option<Arc<BenchmarkIndex>> {
    static INDEX: OnceLock<Option<Arc<BenchmarkIndex>>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let dir = shared_data_dir()?;
            let t = Instant::now();
            let index = BenchmarkIndex::load(&DecontamConfig::default(), &dir).expect("default benchmarks load");
            eprintln!("default index: {:?} keys in {:?}", index.len(), t.elapsed());
            Some(Arc::new(index))
        })
        .clone()
}

fn decontaminator() -> Option<Decontaminator> {
    Some(Decontaminator::new(default_index()?, &DecontamConfig::default()).unwrap())
}

/// `articleBody` of every page of `html-extraction/ground-truth.json`, ordered by key.
fn articles() -> Vec<(String, String)> {
    let dir = shared_data_dir().unwrap();
    let bytes = std::fs::read(dir.join("html-extraction/ground-truth.json")).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
    let mut out: Vec<(String, String)> =
        map.into_iter().map(|(k, v)| (k, v["articleBody"].as_str().unwrap().to_string())).collect();
    out.sort();
    out
}

/// Field `field` of record `line` (0-based) of a benchmark file.
fn bench_text(file: &str, line: usize, field: &str) -> String {
    let dir = shared_data_dir().unwrap();
    let text = std::fs::read_to_string(dir.join("benchmarks").join(file)).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(line).unwrap()).unwrap();
    v[field].as_str().unwrap().to_string()
}

/// The first article with at least `paras` paragraphs and `chars` characters.
fn article_with(paras: usize, chars: usize) -> String {
    articles()
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| b.split("\n\n").count() >= paras && b.chars().count() >= chars)
        .unwrap()
}

/// `body` with `para` inserted as its own paragraph before paragraph `at`.
fn insert_paragraph(body: &str, at: usize, para: &str) -> String {
    let mut parts: Vec<&str> = body.split("\n\n").collect();
    parts.insert(at, para);
    parts.join("\n\n")
}

#[test]
fn default_index_reads_every_record_fast() {
    let Some(index) = default_index() else { return };
    let stats = index.benchmarks();
    let names: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["gsm8k", "math", "math500", "cmath", "gaokao_mathqa", "gaokao_mathcloze", "mgsm_zh"]);
    assert_eq!((stats[0].records, stats[0].texts), (1319, 2638));
    assert_eq!((stats[1].records, stats[1].texts), (5000, 10000));
    assert_eq!((stats[2].records, stats[2].texts), (500, 1000));
    // Every GSM8K question and answer is 10 words or more; MATH has short problems ("Simplify
    // $\sqrt{242}$.") that are matched exactly.
    assert_eq!(stats[0].long_texts, 2638);
    assert!(stats[1].exact_texts > 300, "{:?}", stats[1]);
    let (ngrams, exact) = index.len();
    assert!(ngrams > 500_000 && exact > 300, "{ngrams} {exact}");
    // Timing (debug or release): the whole build, including JSON parsing.
    let dir = shared_data_dir().unwrap();
    let t = Instant::now();
    BenchmarkIndex::load(&DecontamConfig::default(), &dir).unwrap();
    eprintln!("index build {:?} ({ngrams} n-grams, {exact} exact texts)", t.elapsed());
}

#[test]
fn gsm8k_question_paragraph_is_removed_and_nothing_else() {
    let Some(d) = decontaminator() else { return };
    let body = article_with(4, 1500);
    let question = bench_text("gsm8k-test.jsonl", 0, "question");
    assert!(question.starts_with("Janet’s ducks"));
    let doc = insert_paragraph(&body, 2, &question);
    let c = d.clean(&doc);
    assert_eq!(c.text.as_deref(), Some(body.as_str()));
    assert_eq!(c.removed_segments, [("gsm8k".to_string(), 2)]);
    assert_eq!(c.removed_segment_count, 1);
    assert_eq!(c.removed_chars, question.chars().count());
    assert_eq!(c.segments, body.split("\n\n").count() + 1);
    // First and last place too.
    for at in [0, body.split("\n\n").count()] {
        let c = d.clean(&insert_paragraph(&body, at, &question));
        assert_eq!(c.text.as_deref(), Some(body.as_str()), "inserted at {at}");
    }
}

#[test]
fn math_problem_paragraph_is_removed_and_nothing_else() {
    let Some(d) = decontaminator() else { return };
    let body = article_with(4, 1500);
    // A MATH test problem with LaTeX: "Find the distance between the foci of the ellipse ..."
    let problem = bench_text("math-test-5000.jsonl", 10, "problem");
    assert!(normalized_words(&problem).len() >= 10, "{problem}");
    let doc = insert_paragraph(&body, 1, &problem);
    let c = d.clean(&doc);
    assert_eq!(c.text.as_deref(), Some(body.as_str()), "{problem}");
    assert!(c.removed_segments.iter().all(|(_, i)| *i == 1));
    assert!(c.removed_segments.contains(&("math".to_string(), 1)), "{:?}", c.removed_segments);
    // A solution is a benchmark text of its own.
    let solution = bench_text("math-test-5000.jsonl", 10, "solution");
    let c = d.clean(&insert_paragraph(&body, 3, &solution));
    assert_eq!(c.text.as_deref(), Some(body.as_str()));
    assert_eq!(c.removed_segment_count, 1);
}

#[test]
fn question_inside_a_sentence_is_caught_by_a_10_gram() {
    let Some(d) = decontaminator() else { return };
    let body = article_with(4, 1500);
    let question = bench_text("gsm8k-test.jsonl", 5, "question");
    let words: Vec<&str> = question.split_whitespace().collect();
    assert!(words.len() >= 14);
    // Twelve words from the middle of the question, with the page's own words around them.
    let middle = words[1..13].join(" ");
    let para = format!("My daughter brought home a worksheet where {middle} and we laughed about it for a while.");
    let doc = insert_paragraph(&body, 2, &para);
    let c = d.clean(&doc);
    assert_eq!(c.text.as_deref(), Some(body.as_str()), "{para}");
    assert_eq!(c.removed_segments, [("gsm8k".to_string(), 2)]);
    // Nine words are not enough.
    let nine = words[1..10].join(" ");
    let para = format!("My daughter brought home a worksheet where {nine} and we laughed about it for a while.");
    let c = d.clean(&insert_paragraph(&body, 2, &para));
    assert_eq!(c.removed_segment_count, 0, "{para}");
}

#[test]
fn punctuation_and_case_do_not_defeat_it() {
    let Some(d) = decontaminator() else { return };
    let body = article_with(4, 1500);
    let question = bench_text("gsm8k-test.jsonl", 0, "question");
    let variants = [
        question.to_uppercase(),
        question.replace('’', "'").replace('.', "!").replace(' ', "  "),
        question.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>(),
        question.replace(' ', ", ").to_lowercase(),
        question.replace("16", "16.").replace(' ', "\n"),
    ];
    for v in &variants {
        let c = d.clean(&insert_paragraph(&body, 2, v));
        assert_eq!(c.text.as_deref(), Some(body.as_str()), "{v:?}");
    }
    // The control: the same question with one word in every nine replaced shares no 10-gram.
    let altered: Vec<String> = question
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| if i % 9 == 4 { "zebra".to_string() } else { w.to_string() })
        .collect();
    let altered = altered.join(" ");
    let c = d.clean(&insert_paragraph(&body, 2, &altered));
    assert_eq!(c.removed_segment_count, 0, "{altered}");
}

#[test]
fn short_texts_match_exactly_as_a_word_sequence() {
    let Some(dir) = shared_data_dir() else { return };
    // MATH-500's answers as a benchmark of their own: 1 to 9 words each.
    let file = std::fs::File::open(dir.join("benchmarks/math500-test.jsonl")).unwrap();
    let index = BenchmarkIndex::from_jsonl("math500_answer", BufReader::new(file), &["answer"]).unwrap();
    let s = &index.benchmarks()[0];
    assert_eq!(s.texts, 500);
    assert!(s.exact_texts > 50 && s.ignored_texts > 300, "{s:?}");
    // A real 5-word answer (precalculus/659): "5x - 7y + 11z + 4 = 0".
    assert_eq!(normalized_words("5x - 7y + 11z + 4 = 0").len(), 5);
    assert_eq!(index.matches("So the plane is 5x - 7y + 11z + 4 = 0, as claimed."), 1);
    assert_eq!(index.matches("SO THE PLANE IS 5X-7Y+11Z+4=0"), 1);
    // Four of its five words, or all five out of order or split: no match.
    assert_eq!(index.matches("So the plane is 5x - 7y + 11z + 8 = 0, as claimed."), 0);
    assert_eq!(index.matches("So the plane is 5x - 7y + 11z = 4, or 0."), 0);
    assert_eq!(index.matches("So the plane is 5x - 7y + 11 z + 4 = 0."), 0);
    // Under 3 words: ignored ("5", "\frac{1}{2}" is 3 words and so is matched).
    assert_eq!(index.matches("The answer is 5, of course: 7 and 10 as well."), 0);
    assert_eq!(index.matches("Half is $\\frac{1}{2}$ here."), 1);
    // Which is why the default benchmarks leave MATH-500's `answer` out.
    let Some(d) = decontaminator() else { return };
    assert_eq!(d.index().matches("Half is $\\frac{1}{2}$ here."), 0);
    assert_eq!(d.index().matches("the answer is"), 0);
    // A short MATH problem is matched exactly inside a longer paragraph ("Simplify $\sqrt{242}$.").
    assert_ne!(d.index().matches("Homework, question 3: Simplify $\\sqrt{242}$. Show your work."), 0);
    assert_eq!(d.index().matches("Homework, question 3: Simplify $\\sqrt{243}$. Show your work."), 0);
}

#[test]
fn every_article_passes_byte_identical() {
    let Some(d) = decontaminator() else { return };
    let arts = articles();
    assert_eq!(arts.len(), 127);
    let mut report = DecontamReport::new(d.index());
    let mut hits = Vec::new();
    for (key, body) in &arts {
        let c = d.clean(body);
        report.record(&c);
        if c.text.as_deref() != Some(body.as_str()) {
            hits.push((key.clone(), c.removed_segments.clone()));
        }
    }
    assert!(hits.is_empty(), "articles touched: {hits:?}");
    assert_eq!(report.counters.get("decontam_documents"), 127);
    assert_eq!(report.counters.get("decontam_documents_clean"), 127);
}

#[test]
fn document_losing_more_than_half_is_dropped() {
    let Some(index) = default_index() else { return };
    let body = article_with(2, 200);
    let short = body.split("\n\n").find(|p| (60..200).contains(&p.chars().count())).unwrap().to_string();
    let question = bench_text("gsm8k-test.jsonl", 3, "question");
    let answer = bench_text("gsm8k-test.jsonl", 3, "answer");
    let doc = format!("{short}\n\n{question}\n\n{answer}\n");
    let d = Decontaminator::new(index.clone(), &DecontamConfig::default()).unwrap();
    let c = d.clean(&doc);
    assert!(c.dropped());
    assert!(c.removed_chars * 2 > c.total_chars);
    assert_eq!(c.removed_segments, [("gsm8k".to_string(), 1), ("gsm8k".to_string(), 2)]);
    let mut counters = Counters::default();
    c.count_into(&mut counters);
    assert_eq!(counters.get("decontam_documents_dropped"), 1);
    assert_eq!(counters.get("decontam_gsm8k_documents_dropped"), 1);
    assert_eq!(counters.get("decontam_gsm8k_segments"), 2);
    assert_eq!(counters.get("decontam_segments_removed"), 2);
    // With the fraction at 1 the same document is trimmed to its own paragraph and newline.
    let config = DecontamConfig { max_removed_fraction: 1.0, ..DecontamConfig::default() };
    let keep_all = Decontaminator::new(index.clone(), &config).unwrap();
    let c2 = keep_all.clean(&doc);
    assert_eq!(c2.text.as_deref(), Some(format!("{short}\n").as_str()));
    c2.count_into(&mut counters);
    assert_eq!(counters.get("decontam_documents_trimmed"), 1);
    assert_eq!(counters.get("decontam_gsm8k_segments"), 4);
    assert_eq!(counters.get("decontam_documents"), 2);
    // The article itself with the question added keeps more than half: trimmed, not dropped.
    let long = article_with(4, 1500);
    let c3 = d.clean(&format!("{long}\n\n{question}"));
    assert_eq!(c3.text.as_deref(), Some(long.as_str()));
}

#[test]
fn missing_or_bad_benchmarks_are_errors() {
    let Some(dir) = shared_data_dir() else { return };
    let mut config = DecontamConfig::default();
    config.benchmarks.push(BenchmarkSpec::new("aime", "benchmarks/aime-2024.jsonl", &["problem"]));
    match BenchmarkIndex::load(&config, &dir) {
        Err(DecontamError::MissingFile { name, path }) => {
            assert_eq!(name, "aime");
            assert!(path.ends_with("benchmarks/aime-2024.jsonl"));
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
    // A field the records lack.
    let config = DecontamConfig {
        benchmarks: vec![BenchmarkSpec::new("gsm8k", "benchmarks/gsm8k-test.jsonl", &["question", "problem"])],
        ..DecontamConfig::default()
    };
    match BenchmarkIndex::load(&config, &dir) {
        Err(DecontamError::MissingField { line: 1, field, .. }) => assert_eq!(field, "problem"),
        other => panic!("expected MissingField, got {other:?}"),
    }
    // A corrupt line after real ones: the error names the line, and the index keeps nothing of it.
    let real = std::fs::read_to_string(dir.join("benchmarks/gsm8k-test.jsonl")).unwrap();
    let mut text: String = real.lines().take(3).map(|l| format!("{l}\n")).collect();
    text.push_str("{\"question\": \"truncated\n");
    let mut index = BenchmarkIndex::new(NGRAM_WORDS, MIN_EXACT_WORDS).unwrap();
    match index.add_jsonl("gsm8k", text.as_bytes(), &["question", "answer"]) {
        Err(DecontamError::BadRecord { line: 4, .. }) => {}
        other => panic!("expected BadRecord, got {other:?}"),
    }
    assert!(index.is_empty() && index.benchmarks().is_empty());
    assert!(matches!(BenchmarkIndex::from_jsonl("gsm8k", &b"\n\n"[..], &["question"]), Err(DecontamError::Empty { .. })));
    assert!(matches!(BenchmarkIndex::from_jsonl("GSM 8k", &b""[..], &["question"]), Err(DecontamError::Config(_))));
}

#[test]
fn config_is_serde_with_defaults_and_checked() {
    let c: DecontamConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, DecontamConfig::default());
    assert_eq!(c.max_removed_fraction, 0.5);
    assert_eq!(c.benchmarks.len(), 7);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<DecontamConfig>(&json).unwrap(), c);
    assert!(serde_json::from_str::<DecontamConfig>(r#"{"max_removed_fraction": 0.3, "ngram": 8}"#).is_err());
    let bad = DecontamConfig { max_removed_fraction: 1.5, ..DecontamConfig::default() };
    assert!(bad.validate().is_err());
    let dup = DecontamConfig { benchmarks: [BenchmarkSpec::defaults(), BenchmarkSpec::defaults()].concat(), ..Default::default() };
    assert!(dup.validate().is_err());
    assert!(BenchmarkIndex::new(10, 11).is_err());
}

#[test]
fn segments_keep_their_separators() {
    let mut index = BenchmarkIndex::new(NGRAM_WORDS, MIN_EXACT_WORDS).unwrap();
    index.add_texts("probe", ["one two three four five six seven eight nine ten eleven"]).unwrap();
    let d = Decontaminator::new(index, &DecontamConfig { max_removed_fraction: 1.0, ..Default::default() }).unwrap();
    let hit = "x ONE two three four five six seven eight nine ten";
    let doc = format!("\n\nfirst line\nsecond line\r\n \t\r\n{hit}\n\n\nlast\r\n\r\n");
    let c = d.clean(&doc);
    assert_eq!(c.segments, 3);
    assert_eq!(c.removed_segments, [("probe".to_string(), 1)]);
    assert_eq!(c.text.as_deref(), Some("\n\nfirst line\nsecond line\r\n \t\r\nlast\r\n\r\n"));
    // A hit on a line of its own inside a paragraph removes the whole paragraph.
    let c = d.clean(&format!("intro\n{hit}\nmore\n\nkept"));
    assert_eq!(c.text.as_deref(), Some("kept"));
    // Words never join across paragraphs.
    let c = d.clean("one two three four five\n\nsix seven eight nine ten");
    assert_eq!(c.removed_segment_count, 0);
    assert_eq!(d.clean("").text.as_deref(), Some(""));
}

/// Throughput of `clean` on the 127 article texts (run with `--release --ignored --nocapture`).
#[test]
#[ignore]
fn throughput_on_articles() {
    let Some(d) = decontaminator() else { return };
    let arts = articles();
    let bytes: usize = arts.iter().map(|(_, b)| b.len()).sum();
    let rounds = 20;
    let t = Instant::now();
    let mut kept = 0usize;
    for _ in 0..rounds {
        for (_, b) in &arts {
            kept += d.clean(b).text.map_or(0, |t| t.len());
        }
    }
    let el = t.elapsed();
    assert_eq!(kept, bytes * rounds);
    let mb = (bytes * rounds) as f64 / 1e6;
    eprintln!(
        "clean: {} docs x {rounds}, {mb:.1} MB in {el:?} = {:.1} MB/s ({:.0} docs/s), index {:?} keys",
        arts.len(),
        mb / el.as_secs_f64(),
        (arts.len() * rounds) as f64 / el.as_secs_f64(),
        d.index().len()
    );
}

/// The first Chinese article of `zh/html-extraction` with at least `paras` paragraphs
/// (newline-separated in the reference text), as blank-line-separated paragraphs.
fn chinese_article(paras: usize) -> String {
    let dir = shared_data_dir().unwrap();
    let bytes = std::fs::read(dir.join("zh/html-extraction/ground-truth.json")).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
    let mut bodies: Vec<(String, String)> = map
        .into_iter()
        .map(|(k, v)| {
            let lines: Vec<String> = v["content"].as_str().unwrap().lines().map(str::trim).filter(|l| l.chars().count() >= 20).map(String::from).collect();
            (k, lines.join("\n\n"))
        })
        .collect();
    bodies.sort();
    bodies.into_iter().map(|(_, b)| b).find(|b| b.split("\n\n").count() >= paras).unwrap()
}

#[test]
fn cmath_question_in_a_chinese_page_is_removed_and_nothing_else() {
    let Some(d) = decontaminator() else { return };
    let dir = shared_data_dir().unwrap();
    let body = chinese_article(4);
    assert!(crate::segment::has_cjk(&body));
    // The clean Chinese text loses nothing.
    let c = d.clean(&body);
    assert_eq!(c.text.as_deref(), Some(body.as_str()), "{:?}", c.removed_segments);
    // A real CMATH test question as a paragraph of its own.
    let cmath = std::fs::read_to_string(dir.join("zh/benchmarks/cmath-test.jsonl")).unwrap();
    let question = cmath
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .find(|q| normalized_words(q).len() >= 14)
        .unwrap();
    let c = d.clean(&insert_paragraph(&body, 2, &question));
    assert_eq!(c.text.as_deref(), Some(body.as_str()), "{question}");
    assert_eq!(c.removed_segments, [("cmath".to_string(), 2)]);
    // Quoted inside a sentence of other words: caught by a 10-gram of segmented words.
    let quoted = format!("昨天老师在课堂上讲了这样一道题：{question}同学们讨论了很久才得出答案。");
    let c = d.clean(&insert_paragraph(&body, 1, &quoted));
    assert_eq!(c.text.as_deref(), Some(body.as_str()));
    // A Gaokao question with LaTeX, and an MGSM-zh problem (a nested field) too.
    for (file, field, name) in [("agieval-gaokao-mathqa.jsonl", "/question", "gaokao_mathqa"), ("mgsm-zh.jsonl", "/messages/0/content", "mgsm_zh")] {
        let line = std::fs::read_to_string(dir.join("zh/benchmarks").join(file)).unwrap().lines().nth(3).unwrap().to_string();
        let text = serde_json::from_str::<serde_json::Value>(&line).unwrap().pointer(field).unwrap().as_str().unwrap().to_string();
        let c = d.clean(&insert_paragraph(&body, 0, &text));
        assert_eq!(c.text.as_deref(), Some(body.as_str()), "{name}: {text}");
        assert_eq!(c.removed_segments, [(name.to_string(), 0)]);
    }
}

#[test]
fn ape210k_seed_problems_duplicating_benchmarks_are_caught() {
    // zh/README.md: 9 Ape210K valid problems duplicate Ape210K test ones and 5 duplicate CMATH
    // test ones (after NFKC and punctuation removal). Ape210K test states no licence: it is
    // read from the shared folder here, never shipped.
    let Some(dir) = shared_data_dir() else { return };
    let cfg = DecontamConfig {
        benchmarks: vec![
            BenchmarkSpec::new("cmath", "zh/benchmarks/cmath-test.jsonl", &["question"]),
            BenchmarkSpec::new("ape210k", "zh/benchmarks/ape210k-test.ape.jsonl", &["original_text"]),
        ],
        ..DecontamConfig::default()
    };
    let d = Decontaminator::new(Arc::new(BenchmarkIndex::load(&cfg, &dir).unwrap()), &cfg).unwrap();
    let valid = std::fs::read_to_string(dir.join("zh/math-seed/ape210k-valid.ape.jsonl")).unwrap();
    let mut hits: BTreeMap<String, usize> = BTreeMap::new();
    for line in valid.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let c = d.clean(v["original_text"].as_str().unwrap());
        for (name, _) in c.removed_segments {
            *hits.entry(name).or_default() += 1;
        }
    }
    assert!(hits.get("ape210k").copied().unwrap_or(0) >= 9, "{hits:?}");
    assert!(hits.get("cmath").copied().unwrap_or(0) >= 5, "{hits:?}");
    // Not every problem: stock phrases shared with the test split must not remove the seed.
    assert!(hits.values().sum::<usize>() < 1000, "{hits:?}");
}
