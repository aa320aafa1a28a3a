//! `corpusminer bench` runs end to end on a tiny real input (CI checks it runs; the figures are
//! for people, not assertions on time).

use clap::Parser;
use corpusminer_cli::{Cli, Command};
use corpusminer_pipeline::classify::{train, TrainSettings};

#[test]
fn bench_runs_every_stage_on_a_real_shard() {
    let Some(data) = corpusminer_pipeline::testdata::shared_data_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A tiny model: the bench measures speed, not quality.
    let pos: Vec<String> = ["Solve for x: 2x + 3 = 7, so x = 2.", "The derivative of x^2 is 2x.", "Let $a \\neq 0$; then $b^2-4ac$ decides."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let neg: Vec<String> = ["The weather in Paris is mild in spring.", "Our shop ships shoes worldwide.", "The match ended in a draw after extra time."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let settings = TrainSettings { dim: 8, epoch: 1, bucket: 1000, ..TrainSettings::auto(6) };
    let (model, _) = train(&pos, &neg, &settings).unwrap();
    let model_path = dir.path().join("m.bin");
    model.save(&model_path).unwrap();
    let json = dir.path().join("bench.json");
    let shard = data.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz");
    let cli = Cli::try_parse_from([
        "corpusminer",
        "bench",
        "--input",
        shard.to_str().unwrap(),
        "--min-mb",
        "0",
        "--threads",
        "2",
        "--model",
        model_path.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ])
    .unwrap();
    let Command::Bench(args) = cli.command else { panic!("bench expected") };
    let result = corpusminer_cli::bench(args).unwrap();
    assert_eq!(result.stages.len(), 7, "every stage is measured");
    assert_eq!(result.pages, 16, "the Common Crawl excerpt holds 16 HTML pages");
    assert!(result.one_core_pages_per_s > 0.0 && result.all_cores_pages_per_s > 0.0);
    assert!(result.peak_rss_mb > 0.0);
    let (f1, formulas) = result.extraction.expect("extraction quality measured on the shared data");
    assert!(f1 >= 0.90 && formulas >= 0.90, "F1 {f1}, formula recall {formulas}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written["pages"], 16);
}
