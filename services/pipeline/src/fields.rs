//! Text out of a JSON record's field, for seed, negative and benchmark readers.
//!
//! A field is named by a path of keys separated by `.`, a numeric part indexing an array:
//! `question`, `messages.0.content` (MGSM-zh's problem). A string is the text; a number or a
//! boolean its JSON spelling; an array of those (TAL-SCQ5K's `answer_analysis`, a list of solution
//! strings) its items joined by newlines. A key that is literally present with a `.` in its name
//! is found as it is before the path is split.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// What a record holds at a field path.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldText<'a> {
    /// The text.
    Text(Cow<'a, str>),
    /// No such field, or `null`.
    Missing,
    /// An object, or an array holding something other than strings and numbers.
    NotText,
}

/// The text at `path` in `record` (see the module doc).
pub fn field_text<'a>(record: &'a Map<String, Value>, path: &str) -> FieldText<'a> {
    let value = match record.get(path) {
        Some(v) => Some(v),
        None if path.contains('.') => {
            let mut parts = path.split('.');
            let first = parts.next().unwrap_or_default();
            parts.try_fold(record.get(first), |v, part| {
                Some(match (v, part.parse::<usize>()) {
                    (Some(Value::Array(a)), Ok(i)) => a.get(i),
                    (Some(Value::Object(o)), _) => o.get(part),
                    _ => None,
                })
            })
            .flatten()
        }
        None => None,
    };
    value_text(value)
}

fn value_text(value: Option<&Value>) -> FieldText<'_> {
    match value {
        Some(Value::String(s)) => FieldText::Text(Cow::Borrowed(s)),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => FieldText::Text(Cow::Owned(v.to_string())),
        Some(Value::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match value_text(Some(item)) {
                    FieldText::Text(t) => parts.push(t),
                    FieldText::Missing => {}
                    FieldText::NotText => return FieldText::NotText,
                }
            }
            FieldText::Text(Cow::Owned(parts.join("\n")))
        }
        Some(Value::Object(_)) => FieldText::NotText,
        Some(Value::Null) | None => FieldText::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn paths_arrays_and_numbers() {
        let r = rec(r#"{"q":"a","n":3,"list":["s1","s2"],"messages":[{"content":"p"},{"content":""}],"a.b":"dotted","o":{"x":[1,{"y":2}]}}"#);
        let text = |p: &str| match field_text(&r, p) {
            FieldText::Text(t) => Some(t.into_owned()),
            _ => None,
        };
        assert_eq!(text("q").as_deref(), Some("a"));
        assert_eq!(text("n").as_deref(), Some("3"));
        assert_eq!(text("list").as_deref(), Some("s1\ns2"));
        assert_eq!(text("messages.0.content").as_deref(), Some("p"));
        assert_eq!(text("a.b").as_deref(), Some("dotted"));
        assert_eq!(field_text(&r, "messages.5.content"), FieldText::Missing);
        assert_eq!(field_text(&r, "nope"), FieldText::Missing);
        assert_eq!(field_text(&r, "o"), FieldText::NotText);
        assert_eq!(field_text(&r, "o.x"), FieldText::NotText);
        assert_eq!(field_text(&r, "messages"), FieldText::NotText);
    }
}
