//! Tests of the extract module on real bytes from ../shared/data.

use super::*;

#[test]
fn tiny_page() {
    let x = extract(b"<html><head><title>T</title></head><body><div><p>Hello <b>world</b>, a page.</p><p>Second</p></div></body></html>", None);
    assert_eq!(x.unwrap().text, "Hello world, a page.\n\nSecond");
}
