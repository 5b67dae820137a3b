// Compile-time checks of the generated alltypes API (go test
// ./gen/typescript compiles this beside the generated alltypes.duplex.ts
// under --strict). Never run.
import { AlltypesClient, type Comment, type Folder, type Optionals, type SearchResult } from "./alltypes.duplex.js";

export async function use(c: AlltypesClient): Promise<void> {
  // Commands whose parameters are all optional take no argument, or some
  // of them, and options after them.
  const none: SearchResult = await c.search();
  const opts: Optionals = await c.echoOptionals();
  await c.search({ limit: 1 }, { timeout: 1000 });
  await c.search(undefined, { timeout: 1000 });
  // @ts-expect-error: a command with a required parameter needs its argument
  await c.tree();
  // @ts-expect-error: text is a string
  await c.search({ text: 1 });

  // Recursive types nest as deep as the value does.
  const reply: Comment = { text: "b", at: new Date(), replies: [], tags: [{ name: "t", children: [] }] };
  const thread: Comment = await c.thread({ text: "a", at: new Date(), replies: [reply], tags: [] });
  const parent: string | undefined = thread.replies[0]?.parent?.replies[0]?.text;
  const folder: Folder = (await c.tree({ root: { entries: { a: { size: 1n, sub: { entries: {} } } } } })).root;
  const size: bigint | undefined = folder.entries["a"]?.sub.entries["b"]?.size;
  void [none, opts, parent, size];
}
