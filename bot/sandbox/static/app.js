// The sandbox page: polls /api/state and places the HTML the server rendered from the bot's
// Block Kit; every click, command and form goes back as one POST to /api/<action>.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
let user = new URLSearchParams(location.search).get("as") || "";
let tab = "dms";
let shown = {};        // the last JSON placed in each part of the page
let modalKey = "";     // which form (and which version of it) is on screen
let busy = 0;

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function post(action, body) {
  busy += 1;
  document.body.classList.add("busy");
  try {
    const response = await fetch(`/api/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, ...body }),
    });
    const data = await response.json();
    if (!response.ok) notice(data.error || response.statusText);
    else notice("");
    return data;
  } catch (err) {
    notice(String(err));
    return {};
  } finally {
    busy -= 1;
    if (!busy) document.body.classList.remove("busy");
    await refresh();
  }
}

function notice(text) {
  const box = $("#notice");
  box.textContent = text;
  box.hidden = !text;
}

function place(key, element, html) {
  if (shown[key] === html) return false;
  shown[key] = html;
  element.innerHTML = html;
  return true;
}

function initials(name) {
  return esc((name || "?").slice(0, 1).toUpperCase());
}

function messageHtml(m, where, author) {
  const edited = m.edited ? ' <span class="edited">(edited)</span>' : "";
  return `<div class="message" data-where="${where}" data-ref="${esc(m.ref)}">
    <div class="avatar">${initials(author)}</div>
    <div class="body"><div class="meta"><b>Elastic Access</b> APP${edited}</div>${m.html}</div></div>`;
}

async function refresh() {
  let state;
  try {
    const response = await fetch(`/api/state?user=${encodeURIComponent(user)}`);
    state = await response.json();
  } catch (err) {
    return;
  }
  if (!state.people) return;
  user = state.user;
  $("#clock").textContent = state.clock.replace("T", " ").replace("+00:00", " UTC");

  const people = state.people.map((p) => `<option value="${esc(p.id)}"${p.id === user ? " selected" : ""}>` +
    `${esc(p.real_name)} (${esc(p.name)})${p.dms ? ` · ${p.dms} DM${p.dms > 1 ? "s" : ""}` : ""}</option>`).join("");
  if (place("who", $("#who"), people)) $("#who").value = user;
  place("people", $("#people"), state.people.map((p) => `<li><b>${esc(p.real_name)}</b> <span class="muted">${esc(p.id)} · ${esc(p.email)}` +
    `${p.guest ? " · Slack guest" : ""}${p.member ? " · Elastic member" : " · not in Elastic"}</span></li>`).join(""));

  const me = state.people.find((p) => p.id === user) || {};
  $("#dm-count").textContent = state.dms.length ? `(${state.dms.length})` : "";
  place("dms", $("#tab-dms"), state.dms.length || state.files.length
    ? state.dms.map((m) => messageHtml(m, "message", "E")).join("") +
      state.files.map((f) => `<div class="message"><div class="avatar">📎</div><div class="body">File <b>${esc(f.name)}</b> (${f.size} bytes)</div></div>`).join("")
    : `<p class="empty">No messages from the bot to ${esc(me.real_name || user)} yet.</p>`);
  place("home", $("#tab-home"), state.home
    ? `<div data-where="home">${state.home}</div>`
    : '<p class="empty">The Home tab has not been opened yet: click the tab again to open it.</p>');
  if (state.channel) {
    $("#channel-tab").textContent = `#${state.channel.name}`;
    place("channel", $("#tab-channel"), state.channel.messages.length
      ? state.channel.messages.map((m) => messageHtml(m, "channel", "E")).join("")
      : '<p class="empty">Nothing posted yet.</p>');
  } else {
    $("#channel-tab").hidden = true;
  }
  place("private", $("#private"), state.private.slice().reverse().map((p) =>
    `<div class="ephemeral" data-where="private" data-ref="${p.id}"><div class="who-sees">Only visible to you${p.origin ? ` · ${esc(p.origin)}` : ""}</div>${p.html}</div>`).join(""));

  const org = state.elastic.organization;
  $("#org").textContent = `${org.name} · organization ${org.id}`;
  place("members", $("#members tbody"), state.elastic.members.map((m) =>
    `<tr data-email="${esc(m.email)}"><td><b>${esc(m.email)}</b><br><span class="muted">${esc(m.name)}</span></td>` +
    `<td>${m.roles.length ? m.roles.map((r) => `<span class="role">${esc(r)}</span>`).join("") : '<span class="muted">no roles</span>'}</td></tr>`).join(""));
  place("invitations", $("#invitations"), state.elastic.invitations.length
    ? state.elastic.invitations.map((i) => `<li data-email="${esc(i.email)}"><b>${esc(i.email)}</b> ${i.expired ? "(expired)" : "(pending)"}: ${i.roles.map(esc).join(", ")}</li>`).join("")
    : '<li class="muted">none</li>');
  place("resources", $("#resources"), state.elastic.resources.map((r) => `<li>${esc(r.kind)} <b>${esc(r.name)}</b> ${esc(r.id)}</li>`).join(""));
  place("faults", $("#faults"), state.faults.map((f) =>
    `<label class="fault"><input type="checkbox" data-fault="${esc(f.name)}"${f.on ? " checked" : ""}> ${esc(f.label)}` +
    ` <span class="badge${f.on ? " on" : ""}">${f.on ? "on" : "off"}</span></label>`).join(""));

  showModal(state.modal);
}

// -- the form ---------------------------------------------------------------------------
function showModal(modal) {
  const overlay = $("#modal");
  if (!modal) {
    overlay.hidden = true;
    modalKey = "";
    return;
  }
  const key = `${modal.id}:${modal.hash}:${JSON.stringify(modal.errors)}`;
  overlay.hidden = false;
  if (key === modalKey) return;
  const kept = modalKey.split(":")[0] === modal.id ? formValues() : {};
  modalKey = key;
  $("#modal-title").innerHTML = modal.title;
  $("#modal-submit").innerHTML = modal.submit;
  $("#modal-close").innerHTML = modal.close;
  $("#modal-body").innerHTML = modal.html;
  restore(kept);
}

function fieldOf(input) {
  return $(".bk-typeahead, select, textarea, input.bk-text-input, .bk-choices", input);
}

function formValues() {
  const values = {};
  for (const input of $$("#modal-body .bk-input[data-block-id]")) {
    const id = input.dataset.blockId;
    const field = fieldOf(input);
    if (!field) continue;
    if (field.classList.contains("bk-typeahead")) {
      if (field.dataset.value) values[id] = { value: field.dataset.value, label: field.dataset.label };
    } else if (field.classList.contains("bk-choices")) {
      const checked = $$("input:checked", field).map((c) => c.value);
      values[id] = field.dataset.type === "radio_buttons" ? (checked[0] || "") : checked;
    } else {
      values[id] = field.value;
    }
  }
  return values;
}

function restore(values) {
  // What the person entered survives the bot's update of the form and its inline errors,
  // as in Slack, where it still fits (a role the new list no longer offers is dropped).
  for (const [id, value] of Object.entries(values)) {
    const input = $(`#modal-body .bk-input[data-block-id="${CSS.escape(id)}"]`);
    const field = input && fieldOf(input);
    if (!field || value === "" || value == null) continue;
    if (field.classList.contains("bk-typeahead")) {
      if (!field.dataset.value && value.value) {
        field.dataset.value = value.value;
        field.dataset.label = value.label;
        $(".bk-typeahead-input", field).value = value.label;
      }
    } else if (field.classList.contains("bk-choices")) {
      const wanted = Array.isArray(value) ? value : [value];
      $$("input", field).forEach((c) => { c.checked = wanted.includes(c.value); });
    } else if (field.tagName === "SELECT") {
      if (Array.from(field.options).some((o) => o.value === value)) field.value = value;
    } else if (typeof value === "string") {
      field.value = value;
    }
  }
}

let lookup = 0;
async function suggest(box) {
  const ticket = ++lookup;
  const query = $(".bk-typeahead-input", box).value;
  const response = await fetch("/api/options", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, action_id: box.dataset.actionId, query }),
  });
  const data = await response.json();
  if (ticket !== lookup) return;
  const list = $(".bk-suggestions", box);
  list.innerHTML = (data.options || []).map((o) =>
    `<li data-value="${esc(o.value)}" data-label="${esc(o.label)}">${esc(o.label)}</li>`).join("") ||
    '<li class="muted" data-none="1">No matches</li>';
}

let typing;
document.addEventListener("input", (event) => {
  const box = event.target.closest(".bk-typeahead");
  if (!box) return;
  box.dataset.value = "";
  clearTimeout(typing);
  typing = setTimeout(() => suggest(box), 150);
});

document.addEventListener("focusin", (event) => {
  const box = event.target.closest(".bk-typeahead");
  if (box) suggest(box);
});

document.addEventListener("change", async (event) => {
  const target = event.target;
  if (target.dataset.fault) {
    await post("fault", { name: target.dataset.fault, on: target.checked });
    return;
  }
  if (target.id === "who") {
    user = target.value;
    shown = {};
    history.replaceState(null, "", `?as=${encodeURIComponent(user)}`);
    if (tab === "home") await post("home", {});
    else await refresh();
    return;
  }
  const input = target.closest("#modal-body .bk-input");
  if (input && target.closest("[data-dispatch]") && target.tagName === "SELECT") {
    await post("pick", { block_id: input.dataset.blockId, values: formValues() });
  }
});

document.addEventListener("click", async (event) => {
  const target = event.target;
  const choice = target.closest(".bk-suggestions li");
  if (choice) {
    if (choice.dataset.none) return;
    const box = choice.closest(".bk-typeahead");
    box.dataset.value = choice.dataset.value;
    box.dataset.label = choice.dataset.label;
    $(".bk-typeahead-input", box).value = choice.dataset.label;
    $(".bk-suggestions", box).innerHTML = "";
    const input = box.closest(".bk-input");
    if (box.dataset.dispatch && input) {
      await post("pick", { block_id: input.dataset.blockId, values: formValues() });
    }
    return;
  }
  if (!target.closest(".bk-typeahead")) $$(".bk-suggestions").forEach((l) => { l.innerHTML = ""; });

  const button = target.closest(".bk-click");
  if (button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const surface = button.closest("[data-where]");
    if (!surface) return;
    await post("click", {
      where: surface.dataset.where === "channel" ? "message" : surface.dataset.where,
      ref: surface.dataset.ref || "",
      action_id: button.dataset.actionId,
      value: button.dataset.value || "",
      block_id: button.dataset.blockId || "",
    });
    return;
  }
  const tabButton = target.closest(".tab");
  if (tabButton) {
    tab = tabButton.dataset.tab;
    $$(".tab").forEach((t) => t.classList.toggle("active", t === tabButton));
    $$(".panel").forEach((p) => { p.hidden = p.id !== `tab-${tab}`; });
    if (tab === "home") await post("home", {});
    return;
  }
  if (target.classList.contains("time")) {
    await post("advance", { by: target.dataset.by });
    return;
  }
  if (target.id === "move") {
    await post("advance", { by: $("#by").value });
    return;
  }
  if (target.id === "send") {
    await sendCommand();
    return;
  }
  if (target.id === "modal-submit") {
    await post("submit", { values: formValues() });
    return;
  }
  if (target.id === "modal-close") {
    await post("close", {});
  }
});

async function sendCommand() {
  const box = $("#command");
  const text = box.value;
  box.value = "";
  await post("command", { text });
}

$("#command").addEventListener("keydown", (event) => {
  if (event.key === "Enter") sendCommand();
});

refresh();
setInterval(() => { if (!busy) refresh(); }, 1000);
