// Translation tables, one per language; zh-CN is the default. Every key used
// by a page must exist in every table (a test checks this).
export const tables = {
  "zh-CN": {
    switch_language: "English",
    tagline: "数据多跑路，群众少跑腿",
    intro: "镇调解室、村说事拉理室和法律顾问通过视频一起调解矛盾纠纷。",
    login_title: "工作人员登录",
    username: "用户名",
    password: "密码",
    login: "登录",
    logging_in: "正在登录…",
    logout: "退出登录",
    welcome: "欢迎",
    party_hint: "当事人请使用调解员发给您的邀请链接，无需账号。",
    footer: "依据《中华人民共和国人民调解法》记录调解过程与结果",
    error_credentials: "用户名或密码不正确。",
    error_throttled: "尝试次数过多，请 {seconds} 秒后再试。",
    error_network: "无法连接服务器，请检查网络后重试。",
    error_missing: "请填写用户名和密码。",
    role_admin: "系统管理员",
    role_district_admin: "区级管理员",
    role_mediator: "调解员",
    role_station: "说事拉理室",
    role_adviser: "法律顾问",
    no_unit: "全系统",
  },
  en: {
    switch_language: "中文",
    tagline: "Let the data travel, not the villagers",
    intro: "The town mediation office, village talk-it-out rooms and legal advisers settle disputes together by video.",
    login_title: "Staff sign-in",
    username: "Username",
    password: "Password",
    login: "Sign in",
    logging_in: "Signing in…",
    logout: "Sign out",
    welcome: "Welcome",
    party_hint: "Parties to a dispute: open the invitation link your mediator sent you; no account is needed.",
    footer: "Mediation records kept as the PRC People's Mediation Law requires",
    error_credentials: "The username or password is wrong.",
    error_throttled: "Too many attempts. Try again in {seconds} seconds.",
    error_network: "Cannot reach the server. Check the network and try again.",
    error_missing: "Enter your username and password.",
    role_admin: "System administrator",
    role_district_admin: "District administrator",
    role_mediator: "Mediator",
    role_station: "Village station",
    role_adviser: "Legal adviser",
    no_unit: "Whole system",
  },
};

const STORAGE_KEY = "mediation.lang";

export function currentLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  return saved && tables[saved] ? saved : "zh-CN";
}

export function setLanguage(lang) {
  localStorage.setItem(STORAGE_KEY, lang);
}

/** The text for `key` in the current language, with {name} placeholders filled. */
export function t(key, params = {}) {
  const table = tables[currentLanguage()];
  const text = table[key];
  if (text === undefined) {
    console.error(`missing translation: ${currentLanguage()}.${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** Fills every element with a data-i18n attribute in the current language. */
export function translatePage(root = document) {
  document.documentElement.lang = currentLanguage();
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}
