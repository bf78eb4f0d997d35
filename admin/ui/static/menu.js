// The gateway's menu inside MLflow's own UI: who is signed in, their
// tokens and permissions, sign out. It reads the user from the API (the
// page itself carries no user data), sends the browser back to sign in
// when an API call answers 401 because the session ended, and shows why
// a change was refused: some of MLflow's dialogs (deleting runs) drop the
// answer's message and say only that an error occurred.
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
  // A change is any request but a read; MLflow's searches and GraphQL
  // are reads sent as POST, and their refusals are shown by MLflow's pages.
  var isChange = function (method, url) {
    method = String(method || "GET").toUpperCase();
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return false;
    var path = String(url || "").split("?")[0];
    return !/(\/search[^\/]*|\/graphql)$/.test(path);
  };
  var notice = null;
  var refused = function (body) {
    var answer;
    try { answer = JSON.parse(body); } catch (e) { return; }
    if (!answer || answer.error_code !== "PERMISSION_DENIED" || !answer.message) return;
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "mlflowauth-refusal";
      notice.setAttribute("role", "alert");
      notice.setAttribute("style", box + "left:50%;bottom:16px;transform:translateX(-50%);max-width:560px;" +
        "padding:8px 12px;border-color:#e5484d;color:#1f272d;display:flex;gap:10px;align-items:flex-start");
      var text = document.createElement("span");
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "\u00d7";
      close.setAttribute("aria-label", "Dismiss");
      close.setAttribute("style", "border:0;background:none;font-size:16px;line-height:1;cursor:pointer;color:#616e7c");
      close.onclick = function () { notice.style.display = "none"; };
      notice.appendChild(text);
      notice.appendChild(close);
      document.body.appendChild(notice);
    }
    notice.firstChild.textContent = "Not changed: " + answer.message;
    notice.style.display = "flex";
  };
  var original = window.fetch;
  if (original) {
    window.fetch = function (input, init) {
      var method = (init && init.method) || (input && input.method);
      var url = (input && input.url) || input;
      return original.apply(this, arguments).then(function (r) {
        if (r.status === 401) signIn();
        if (r.status === 403 && isChange(method, url)) r.clone().text().then(refused, function () {});
        return r;
      });
    };
  }
  var open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    // One listener per request object, reading what the latest open()
    // asked: a reused XMLHttpRequest must not answer for an old request.
    this.__mlflowauth = { method: method, url: url };
    if (!this.__mlflowauthListening) {
      this.__mlflowauthListening = true;
      this.addEventListener("load", function () {
        var req = this.__mlflowauth || {};
        if (this.status === 401) signIn();
        if (this.status === 403 && isChange(req.method, req.url) && (this.responseType === "" || this.responseType === "text")) refused(this.responseText);
      });
    }
    return open.apply(this, arguments);
  };
  // Where MLflow's layout leaves room: MLflow 3 has a sidebar whose foot
  // is free; MLflow 2's header has its logo and tabs on the left, the
  // theme switch and links on the right, and free space between.
  var box = "position:fixed;z-index:10000;font:13px system-ui,sans-serif;background:#fff;" +
    "border:1px solid #e4e7eb;border-radius:6px;padding:4px 10px;box-shadow:0 1px 3px rgba(0,0,0,.08);";
  var render = function (user, major) {
    var column = major >= 3;
    var bar = document.createElement("div");
    bar.id = "mlflowauth-menu";
    bar.setAttribute("style", box + (column
      ? "left:8px;bottom:12px;width:184px;box-sizing:border-box;display:flex;flex-direction:column;gap:2px;padding:6px 10px"
      : "top:14px;left:calc(50% + 76px);transform:translateX(-50%);white-space:nowrap"));
    var name = document.createElement("span");
    name.textContent = user.username;
    name.setAttribute("style", "color:#616e7c;overflow:hidden;text-overflow:ellipsis;" + (column ? "" : "margin-right:10px"));
    bar.appendChild(name);
    [["My tokens", "/oidc/ui/tokens"], ["Permissions", "/oidc/ui/permissions"], ["Sign out", "/logout"]].forEach(function (l) {
      var a = document.createElement("a");
      a.textContent = l[0];
      a.href = l[1];
      a.setAttribute("style", "color:#0b6bcb;text-decoration:none;" + (column ? "" : "margin-left:10px"));
      bar.appendChild(a);
    });
    document.body.appendChild(bar);
  };
  var major = (original || fetch).call(window, "/version", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.text() : ""; })
    .then(function (v) { return parseInt(v, 10) || 0; })
    .catch(function () { return 0; });
  (original || fetch).call(window, "/api/2.0/mlflow/users/current", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (u) { if (u && u.username) major.then(function (m) { render(u, m); }); })
    .catch(function () {});
})();
