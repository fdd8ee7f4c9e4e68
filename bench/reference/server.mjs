// Better Auth reference server for bench/side-by-side: the configuration of
// /work/shared/protocol/README.md ("The reference server configuration") — memory adapter,
// plugins anonymous, username, magicLink, passkey, bearer; rate limit off; cookie cache off —
// served with node:http through toNodeHandler. Run with NODE_ENV=production.
//
//   node server.mjs [--port N]      (default 3100; 0 picks a free port)
//
// Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { anonymous, bearer, magicLink, username } from "better-auth/plugins";
import { passkey } from "@better-auth/passkey";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : Number(process.env.PORT ?? 3100);
const host = "127.0.0.1";

const server = http.createServer();
server.listen(port, host, () => {
  const origin = `http://${host}:${server.address().port}`;
  const db = { user: [], session: [], account: [], verification: [], passkey: [] };
  const auth = betterAuth({
    baseURL: origin,
    basePath: "/api/auth",
    trustedOrigins: [origin],
    secret: process.env.BETTER_AUTH_SECRET ?? "kernia-reference-secret-0123456789ABCDEF",
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true, requireEmailVerification: false },
    emailVerification: { sendOnSignUp: false, sendVerificationEmail: async () => {} },
    user: { deleteUser: { enabled: true }, changeEmail: { enabled: true } },
    session: { cookieCache: { enabled: false } },
    rateLimit: { enabled: false },
    plugins: [
      anonymous(),
      username(),
      magicLink({ sendMagicLink: async () => {} }),
      passkey({ rpName: "Kernia Reference" }),
      bearer(),
    ],
  });
  server.on("request", toNodeHandler(auth));
  console.log(`listening on ${origin} (NODE_ENV=${process.env.NODE_ENV ?? ""}, pid ${process.pid})`);
});

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
