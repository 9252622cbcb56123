// ESLint for the dashboard and playground sources (`make lint`): typescript-eslint's
// type-checked recommended rules, with type information from tsconfig.json.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  // This file is plain JavaScript outside tsconfig.json: no type information for it.
  { files: ["eslint.config.js"], extends: [tseslint.configs.disableTypeChecked], languageOptions: { globals: globals.node } },
  { files: ["vite.config.ts"], languageOptions: { globals: globals.node } },
);
