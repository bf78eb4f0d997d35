// The gateway's menu inside MLflow's own UI: who is signed in, their
// tokens and permissions, sign out. It reads the user from the API (the
// page itself carries no user data), and sends the browser back to sign
// in when an API call answers 401 because the session ended.
(function () {
  "use strict";
  // The gateway names its sign-in page when SSO is on; without it a
  // reload makes the browser ask for Basic credentials again.
  var login = document.currentScript && document.currentScript.getAttribute("data-login");
  var leaving = false;
  var signIn = function () {
    if (leaving) return;
    leaving = true;
    if (login) {
      location.assign(login + "?next=" + encodeURIComponent(location.pathname + location.search + location.hash));
    } else {
      location.reload();
    }
  };
  var original = window.fetch;
  if (original) {
    window.fetch = function () {
      return original.apply(this, arguments).then(function (r) {
        if (r.status === 401) signIn();
        return r;
      });
    };
  }
  var open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function () {
    this.addEventListener("load", function () { if (this.status === 401) signIn(); });
    return open.apply(this, arguments);
  };
  var render = function (user) {
    var bar = document.createElement("div");
    bar.id = "mlflowauth-menu";
    bar.setAttribute("style", "position:fixed;top:8px;right:12px;z-index:10000;font:13px system-ui,sans-serif;" +
      "background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:4px 10px;box-shadow:0 1px 3px rgba(0,0,0,.08)");
    var name = document.createElement("span");
    name.textContent = user.username;
    name.setAttribute("style", "margin-right:10px;color:#616e7c");
    bar.appendChild(name);
    [["My tokens", "/oidc/ui/tokens"], ["Permissions", "/oidc/ui/permissions"], ["Sign out", "/logout"]].forEach(function (l) {
      var a = document.createElement("a");
      a.textContent = l[0];
      a.href = l[1];
      a.setAttribute("style", "margin-left:10px;color:#0b6bcb;text-decoration:none");
      bar.appendChild(a);
    });
    document.body.appendChild(bar);
  };
  (original || fetch).call(window, "/api/2.0/mlflow/users/current", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (u) { if (u && u.username) render(u); })
    .catch(function () {});
})();
