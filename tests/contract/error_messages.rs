//! Error messages say what was wrong and where.

use hotpocket::{Error, OutputErrorKind};

#[test]
fn messages_name_the_place() {
    let e = Error::Input {
        user: "edab".into(),
        index: 3,
        message: "out of range".into(),
    };
    assert_eq!(e.to_string(), "user edab input #3: out of range");
    let e = Error::Output {
        user: "edab".into(),
        kind: OutputErrorKind::Closed,
    };
    assert!(e.is_closed());
    assert!(e.to_string().contains("user edab"));
    assert_eq!(Error::msg("no such account").to_string(), "no such account");
}
