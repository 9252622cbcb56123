// The languages CodeRun runs, as GET /api/v1/languages lists them (an operator can add more with
// CODERUN_LANGUAGES_FILE). The built-in four are the fallback when that request fails.
import { type Language, api } from "./api";

const FALLBACK_LANGUAGES: Language[] = [
  { key: "python", display: "Python", starter: 'print("Hello, World!")\n' },
  { key: "javascript", display: "JavaScript", starter: 'console.log("Hello, World!");\n' },
  {
    key: "cpp",
    display: "C++",
    starter:
      '#include <iostream>\n\nint main() {\n    std::cout << "Hello, World!" << std::endl;\n    return 0;\n}\n',
  },
  {
    key: "java",
    display: "Java",
    starter:
      'public class Main {\n    public static void main(String[] args) {\n        System.out.println("Hello, World!");\n    }\n}\n',
  },
];

const names = new Map(FALLBACK_LANGUAGES.map((l) => [l.key, l.display]));

export function languageName(key: string): string {
  return names.get(key) ?? key;
}

/** The server's list (and its display names from then on), or the built-in one. */
export async function loadLanguages(): Promise<Language[]> {
  let languages = FALLBACK_LANGUAGES;
  try {
    const listed = await api.languages();
    if (Array.isArray(listed) && listed.length) languages = listed;
  } catch {
    /* the built-in list still lets the page work */
  }
  for (const l of languages) names.set(l.key, l.display);
  return languages;
}
