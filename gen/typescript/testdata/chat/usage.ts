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
  type ClientOptions,
  type State,
  type JoinedEvent,
  type LoginResult,
  type PingResult,
  type User,
} from "./chat.duplex.js";

declare const signal: AbortSignalLike;

export async function use(): Promise<string> {
  const opts: ClientOptions = {
    timeout: 5000,
    backoffBase: 500,
    backoffMax: 60000,
    maxAttempts: 20,
    terminal: [1008, 4001],
    queue: 50,
    pingTimeout: 5000,
    onStartOver: (reason) => void chat.login({ name: reason }),
    onGiveUp: () => {},
  };
  const chat = new ChatClient("ws://localhost:8080/ws", opts);
  const offState = chat.onState((s) => {
    const state: State = s;
    void state;
  });
  offState();
  // @ts-expect-error: not a state
  const wrong: State = "reconnected";
  await chat.connect();
  const now: State = chat.state;
  const session: string | undefined = chat.session;

  const login: LoginResult = await chat.login({ name: "ann" }, { timeout: 1000, signal, idempotent: false });
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
      const again: boolean = e.retryable;
      void again;
      return e.code;
    }
  }
  chat.close(1000, "bye");
  void users, nothing, avatar, since, at, events, wrong, now, session;
  return "";
}
