//! The example files the README shows are valid inputs, shown as they are.

use corpusminer_coordinator::annotation::{parse_annotations, ImportDefaults};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[test]
fn the_example_annotations_import_and_the_readme_shows_them_whole() {
    let path = format!("{ROOT}/examples/annotations.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let rows = parse_annotations(&path, &text, &ImportDefaults::default()).unwrap();
    let got: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.prefix.as_str(), r.label.as_str(), r.annotator.as_str())).collect();
    assert_eq!(
        got,
        [
            ("mathhelpforum.com", "math", "example"),
            ("math.stackexchange.com/questions", "math", "example"),
            ("oscarlevin.github.io/discrete-book", "math", "example"),
            ("colah.github.io/posts", "math", "example"),
            ("colah.github.io/posts/2020-05-University", "nonmath", "example"),
            ("autoracing.com.br", "nonmath", "example"),
            ("aircraftspruce.com", "nonmath", "example"),
        ]
    );
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    assert!(readme.contains(&format!("```csv\n{}```", text)), "README.md shows examples/annotations.csv as it is");
    assert!(readme.contains("corpusminer annotate import examples/annotations.csv --out out"));
    assert!(readme.contains("[`ARCHITECTURE.md`](ARCHITECTURE.md)") && !readme.contains("../shared/DESIGN.md"));
}
