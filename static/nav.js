// Navigation helpers that a shared, cached page cannot render for each visitor.
// Without this script every link still works; it only makes them come back to
// where the visitor was.
(function () {
  "use strict";
  var here = window.location.pathname + window.location.search;
  var key = "rocket-cache:last-list";
  try {
    // The users list remembers its page, so that "All users" returns to it.
    if (window.location.pathname === "/") {
      window.sessionStorage.setItem(key, here);
    }
    var list = window.sessionStorage.getItem(key);
    if (list && list.charAt(0) === "/" && list.charAt(1) !== "/") {
      document.querySelectorAll("a[data-back-to-list]").forEach(function (link) {
        link.setAttribute("href", list);
      });
    }
  } catch (e) {
    // Storage refused (private mode): the links keep going to page 1.
  }
  // After logging in, the admin comes back to the page where "Admin" was clicked.
  document.querySelectorAll("a[data-login-returns]").forEach(function (link) {
    link.setAttribute("href", "/admin/login?next=" + encodeURIComponent(here));
  });
})();
