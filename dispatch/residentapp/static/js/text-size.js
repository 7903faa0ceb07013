// 大字模式: the whole app in larger type (every size is in rem, so one root size scales it all).
// Remembered in this browser, so an elderly resident sets it once.

const KEY = "sanshe.r.large-text";

function apply(large) {
  document.documentElement.classList.toggle("large-text", large);
  const button = document.getElementById("text-size");
  button.setAttribute("aria-pressed", String(large));
  button.textContent = large ? "标准字" : "大字";
  button.title = large ? "恢复标准字号" : "放大全部文字";
}

export function setUpTextSize() {
  apply(localStorage.getItem(KEY) === "1");
  document.getElementById("text-size").addEventListener("click", () => {
    const large = !document.documentElement.classList.contains("large-text");
    if (large) localStorage.setItem(KEY, "1");
    else localStorage.removeItem(KEY);
    apply(large);
  });
}
