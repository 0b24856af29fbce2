// Small Markdown helpers shared by every generated section.

export const code = (s: string) => (s.includes("`") ? `\`\` ${s} \`\`` : `\`${s}\``);
/** A table cell: pipes escaped, newlines flattened. */
export const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
export const sentence = (s: string) => {
  const t = s.trim();
  if (!t) return t;
  const up = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(up) ? up : `${up}.`;
};
export const list = (xs: string[]) =>
  xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;
