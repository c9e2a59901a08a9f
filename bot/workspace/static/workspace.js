// Enhances the plain forms: a live preview of a topic as Telegram shows it, and a live phone
// check on contacts. Without this file every form still works (save, then see the result).
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), ms);
  };
}

function csrfOf(form) {
  const input = form.querySelector('input[name="csrf"]');
  return input ? input.value : "";
}

async function post(url, form, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfOf(form) },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(String(response.status));
  return response.json();
}

function showProblems(root, problems, names) {
  for (const name of names) {
    const box = root.querySelector("#problem-" + CSS.escape(name));
    if (!box) continue;
    box.replaceChildren(...(problems[name] || []).map((text) => {
      const p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
    const field = root.querySelector("#" + CSS.escape(name));
    if (field) field.toggleAttribute("aria-invalid", Boolean(problems[name]));
  }
}

function renderScreens(phone, screens) {
  const parts = [];
  for (const screen of screens) {
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.innerHTML = screen.html; // made safe on the server: only Telegram's tags, re-escaped
    const keyboard = document.createElement("div");
    keyboard.className = "keyboard";
    for (const row of screen.buttons) {
      const line = document.createElement("div");
      line.className = "row";
      for (const label of row) {
        const key = document.createElement("span");
        key.className = "key";
        key.textContent = label;
        line.append(key);
      }
      keyboard.append(line);
    }
    parts.push(bubble, keyboard);
  }
  phone.replaceChildren(...parts);
}

function enhanceTopic(form) {
  const topic = form.dataset.topic;
  for (const column of form.querySelectorAll("fieldset[data-lang]")) {
    const lang = column.dataset.lang;
    const phone = column.querySelector('[data-preview="' + lang + '"]');
    const inputs = column.querySelectorAll("input[name], textarea[name]");
    const update = debounce(async () => {
      const fields = {};
      for (const input of inputs) fields[input.name] = input.value;
      try {
        const answer = await post("/workspace/preview", form, { topic, lang, fields });
        if (phone) renderScreens(phone, answer.screens);
        showProblems(column, answer.problems, Object.keys(fields));
      } catch (error) {
        // the saved form still works; the preview waits for the next change
      }
    }, 400);
    for (const input of inputs) input.addEventListener("input", update);
  }
}

function enhanceContact(form) {
  const phone = form.querySelector("#phone");
  const country = form.querySelector("#country");
  const shown = form.querySelector("#phone-shown");
  if (!phone || !country) return;
  const check = debounce(async () => {
    try {
      const answer = await post("/workspace/phone", form,
        { phone: phone.value, country: country.value });
      showProblems(form, answer.ok ? {} : { phone: [answer.problem] }, ["phone"]);
      if (shown) shown.textContent = answer.ok ? answer.shown : "";
    } catch (error) {
      // checked again on save
    }
  }, 300);
  phone.addEventListener("input", check);
  country.addEventListener("input", check);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-topic]")) enhanceTopic(form);
  for (const form of document.querySelectorAll("form.contact-form")) enhanceContact(form);
});
