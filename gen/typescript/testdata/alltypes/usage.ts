// Compile-time checks of the generated alltypes API (go test
// ./gen/typescript compiles this beside the generated alltypes.duplex.ts
// under --strict). Never run.
import { AlltypesClient, type Comment, type Folder } from "./alltypes.duplex.js";

export async function use(c: AlltypesClient): Promise<void> {
  // Recursive types nest as deep as the value does.
  const reply: Comment = { text: "b", at: new Date(), replies: [], tags: [{ name: "t", children: [] }] };
  const thread: Comment = await c.thread({ text: "a", at: new Date(), replies: [reply], tags: [] });
  const parent: string | undefined = thread.replies[0]?.parent?.replies[0]?.text;
  const folder: Folder = (await c.tree({ root: { entries: { a: { size: 1n, sub: { entries: {} } } } } })).root;
  const size: bigint | undefined = folder.entries["a"]?.sub.entries["b"]?.size;
  void [parent, size];
}
