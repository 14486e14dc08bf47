//! The order of the app's fairings, which several of them depend on (see each
//! area's `stage`): Rocket runs each kind of callback in the order of attachment.

use crate::support::TestApp;

/// The fairings Rocket runs for each kind of callback, in its order, from its
/// `Debug` output (the one place a running Rocket lists them). `Shield` is
/// the empty one the departure stage puts in place of Rocket's own (whose
/// headers the app writes with its security headers).
fn fairings(rocket: &rocket::Rocket<rocket::Orbit>) -> Vec<(String, Vec<String>)> {
    let debug = format!("{rocket:?}");
    let start = debug
        .find("Fairings {")
        .expect("the fairings in Rocket's Debug output");
    let debug = &debug[start..];
    ["launch", "liftoff", "request", "response", "shutdown"]
        .iter()
        .map(|kind| {
            let from = debug
                .find(&format!("{kind}: ["))
                .unwrap_or_else(|| panic!("no {kind} list in {debug}"));
            let list = &debug[from..];
            let list = &list[..list.find(']').expect("the list's end")];
            let names = list
                .split("name: \"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
                .collect();
            ((*kind).to_owned(), names)
        })
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

/// The stages (which only attach the others, at ignite) in the order `build`
/// attaches them, and the other fairings.
fn stages_apart(found: Vec<(String, Vec<String>)>) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut stages = Vec::new();
    let others = found
        .into_iter()
        .map(|(kind, names)| {
            let (these, rest): (Vec<String>, Vec<String>) =
                names.into_iter().partition(|name| name.ends_with(" stage"));
            stages.extend(these);
            (kind, rest)
        })
        .collect();
    (stages, others)
}

#[rocket::async_test]
async fn fairings_run_in_the_order_their_rules_need() {
    let app = TestApp::spawn().await;
    let (stages, found) = stages_apart(fairings(app.client.rocket()));
    assert_eq!(
        stages,
        names(&[
            "Start-up checks stage",
            "Request arrival stage",
            "Web stage",
            "MySQL stage",
            "Metrics access stage",
            "Page cache stage",
            "Binlog follower stage",
            "Figures stage",
            "Request departure stage",
        ])
    );
    let expected = vec![
        (
            "launch".to_owned(),
            names(&[
                "Start-up checks",
                "Admin authentication",
                "Templating",
                "MySQL pool",
                "Metrics access",
                "Page cache",
                "Binlog follower",
                "Metrics",
                "Fleet figures",
            ]),
        ),
        (
            "liftoff".to_owned(),
            names(&[
                "Templating",
                "MySQL pool",
                "Page cache",
                "Binlog follower",
                "Fleet figures",
                "Shield",
            ]),
        ),
        (
            "request".to_owned(),
            names(&[
                "Request arrival",
                "Duplicate Host guard",
                "Admin authentication",
                "Templating",
                "Page cache",
            ]),
        ),
        (
            "response".to_owned(),
            names(&["Page cache", "Shield", "Request departure"]),
        ),
        (
            "shutdown".to_owned(),
            names(&[
                "MySQL pool",
                "Page cache",
                "Binlog follower",
                "Fleet figures",
            ]),
        ),
    ];
    assert_eq!(found, expected);
}
