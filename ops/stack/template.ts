/**
 * Fills `{{NAME}}` placeholders in a configuration template. A placeholder without a value, or
 * a value nobody asked for, is an error, so a template and its caller cannot drift apart silently.
 */
export function renderTemplate(template: string, values: Record<string, string | number>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    used.add(name);
    return String(value);
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`values not used by the template: ${unused.join(", ")}`);
  return out;
}
