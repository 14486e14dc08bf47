//! The users pages and JSON API, uncached behaviour.

use crate::support::TestApp;

#[rocket::async_test]
async fn the_users_list_shows_the_tutorial_sample_row() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Soumitra"), "{body}");
    assert!(body.contains("soumitra@roytuts.com"));
    assert!(body.contains("1 user in all"));
}

#[rocket::async_test]
async fn a_user_name_with_markup_is_shown_as_text() {
    let app = TestApp::spawn().await;
    app.db.execute(
        "INSERT INTO `user` (name, email, phone, address) \
         VALUES ('<script>alert(1)</script>', 'x@example.com', '1', '\"&''')",
    );
    let (_, body) = app.get_text("/").await;
    assert!(!body.contains("<script>alert(1)</script>"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let (_, detail) = app.get_text("/users/2").await;
    assert!(detail.contains("&lt;script&gt;"));
    assert!(!detail.contains("<script>"));
}
