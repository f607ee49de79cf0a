import CodeMirror from "@uiw/react-codemirror";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { linter, lintGutter } from "@codemirror/lint";

const readOnlyExtensions = [json()];
const editableExtensions = [json(), linter(jsonParseLinter()), lintGutter()];

export function JsonEditor(props: { value: string; onChange?: (text: string) => void; height?: string; label: string }) {
  const editable = props.onChange !== undefined;
  return (
    <div className="json-editor" data-testid={`json-${props.label}`} aria-label={props.label}>
      <CodeMirror
        value={props.value}
        height={props.height ?? "auto"}
        maxHeight={editable ? undefined : "520px"}
        editable={editable}
        readOnly={!editable}
        extensions={editable ? editableExtensions : readOnlyExtensions}
        onChange={props.onChange}
        basicSetup={{ foldGutter: true, lineNumbers: true, highlightActiveLine: editable }}
      />
    </div>
  );
}

export const pretty = (value: unknown): string => JSON.stringify(value, null, 2);
