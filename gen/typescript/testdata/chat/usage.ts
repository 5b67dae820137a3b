// Compile-time checks of the generated chat API (go test ./gen/typescript
// compiles this beside the generated chat.duplex.ts under --strict): the
// types a developer sees, and the mistakes they must not get past tsc.
// Never run.
import {
  ChatClient,
  DuplexError,
  NameTakenError,
  Role,
  isNameTaken,
  isNotLoggedIn,
  type AbortSignalLike,
  type ChatEvents,
  type JoinedEvent,
  type LoginResult,
  type PingResult,
  type User,
} from "./chat.duplex.js";

declare const signal: AbortSignalLike;

export async function use(): Promise<string> {
  const chat = new ChatClient("ws://localhost:8080/ws", { timeout: 5000 });
  await chat.connect();

  const login: LoginResult = await chat.login({ name: "ann" }, { timeout: 1000, signal });
  const users: string[] = login.users;
  // @ts-expect-error: name is required
  await chat.login({});
  // @ts-expect-error: name is a string
  await chat.login({ name: 1 });
  // @ts-expect-error: logout takes no arguments (only call options)
  await chat.logout({ name: "ann" });
  const nothing: void = await chat.logout();
  await chat.user({ content: "hello" });

  const me: User = await chat.profile({
    name: "ann",
    since: new Date(),
    roles: [Role.admin, "member"],
    prefs: { theme: "dark" },
    avatar: new Uint8Array([1, 2]),
  });
  const avatar: Uint8Array | undefined = me.avatar;
  const since: Date = me.since;
  // @ts-expect-error: roles hold Role values
  await chat.profile({ ...me, roles: ["root"] });
  // @ts-expect-error: since is a Date
  await chat.profile({ ...me, since: "2024-01-01T00:00:00Z" });

  const ping: PingResult = await chat.ping();
  const at: Date = ping.at;

  const off = chat.on("joined", (d) => {
    const name: string = d.name;
    const who: string[] = d.users;
    void name, who;
  });
  off();
  chat.on("left", (d: JoinedEvent) => void d);
  // @ts-expect-error: no such event
  chat.on("said", () => {});
  // @ts-expect-error: joined's data has no text
  chat.on("joined", (d) => void d.text);
  const events: (keyof ChatEvents)[] = ["joined", "left"];

  try {
    await chat.login({ name: "ann" });
  } catch (e) {
    if (isNameTaken(e)) {
      const code: "name_taken" = e.code;
      const err: NameTakenError = e;
      void code, err;
    } else if (isNotLoggedIn(e)) {
      // @ts-expect-error: the code is not_logged_in
      const code: "name_taken" = e.code;
      void code;
    } else if (e instanceof DuplexError) {
      return e.code;
    }
  }
  chat.close(1000, "bye");
  void users, nothing, avatar, since, at, events;
  return "";
}
