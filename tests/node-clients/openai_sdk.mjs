// openai_sdk.mjs - drives the gateway's OpenAI-compatible endpoints with the
// official `openai` npm SDK (pinned in package.json here) and prints what it
// saw as one JSON object; tests/integration/gateway/test_openai_sdk.py runs
// it and asserts on the result (and on what the fake runtime received).
//
//   node openai_sdk.mjs BASE_URL API_KEY SCENARIO
//
// SCENARIO: "main" (every path of a working endpoint), "suspended" (the
// tenant is suspended), "runtime_down" (the runtime answers 503).
// Nothing here asserts: a thrown SDK error is recorded by its class, status,
// code, type and param, so the Python side says what was expected.
import OpenAI from 'openai';

const [, , baseURL, apiKey, scenario] = process.argv;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });

// Run fn; its value, or the SDK error it threw, as plain data.
async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return {
      ok: false,
      name: e.constructor.name,
      status: e.status ?? null,
      code: e.code ?? null,
      type: e.type ?? null,
      param: e.param ?? null,
      message: e.message,
      requestID: e.requestID ?? null,
      error: e.error ?? null,
    };
  }
}

// Every chunk of a Chat Completions stream.
async function chatChunks(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

// Every event of a Responses stream, raw.
async function responseEvents(params) {
  const stream = await client.responses.create({ ...params, stream: true });
  const events = [];
  for await (const e of stream) events.push(e);
  return events;
}

async function main() {
  const out = {};
  // Models: list (the SDK pages through it), retrieve, an unknown id.
  out.models = await attempt(async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m);
    return ids;
  });
  out.model = await attempt(() => client.models.retrieve('claw-mini'));
  out.model_missing = await attempt(() => client.models.retrieve('gpt-none'));

  // Chat Completions: plain, streamed with usage, the stream helper.
  out.chat = await attempt(() =>
    client.chat.completions.create({
      model: 'claw',
      user: 'ann',
      messages: [
        { role: 'system', content: 'ignored' },
        { role: 'user', content: 'hello sdk' },
      ],
    }),
  );
  out.chat_stream = await attempt(() =>
    chatChunks({
      model: 'claw',
      messages: [{ role: 'user', content: 'stream sdk' }],
      stream_options: { include_usage: true },
    }),
  );
  out.chat_stream_plain = await attempt(() =>
    chatChunks({ model: 'claw', messages: [{ role: 'user', content: 'plain stream' }] }),
  );
  out.chat_helper = await attempt(async () => {
    const runner = client.chat.completions.stream({
      model: 'claw',
      messages: [{ role: 'user', content: 'helper sdk' }],
      stream_options: { include_usage: true },
    });
    return await runner.finalChatCompletion();
  });

  // Refusals: a bad key, empty messages, a bad body.
  const bad = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  out.bad_key_chat = await attempt(() =>
    bad.chat.completions.create({ model: 'claw', messages: [{ role: 'user', content: 'x' }] }),
  );
  out.bad_key_models = await attempt(() => bad.models.list());
  out.empty_messages = await attempt(() =>
    client.chat.completions.create({ model: 'claw', messages: [] }),
  );
  out.no_model = await attempt(() =>
    client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }),
  );

  // Responses: plain, a continuation, input as messages, streamed (raw
  // events and the helper), a bad previous_response_id.
  out.response = await attempt(() =>
    client.responses.create({ model: 'claw', input: 'respond sdk', instructions: 'be brief' }),
  );
  if (out.response.ok) {
    out.response_text = out.response.value.output_text;
    out.response_next = await attempt(() =>
      client.responses.create({
        model: 'claw',
        input: 'and then',
        previous_response_id: out.response.value.id,
      }),
    );
  }
  out.response_messages = await attempt(() =>
    client.responses.create({
      model: 'claw',
      input: [
        { role: 'user', content: 'first turn' },
        { role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'second turn' }] },
      ],
    }),
  );
  out.response_events = await attempt(() =>
    responseEvents({ model: 'claw', input: 'stream responses' }),
  );
  out.response_helper = await attempt(async () => {
    const s = client.responses.stream({ model: 'claw', input: 'helper responses' });
    const deltas = [];
    s.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await s.finalResponse();
    return { deltas, output_text: final.output_text, final };
  });
  out.response_bad_prev = await attempt(() =>
    client.responses.create({ model: 'claw', input: 'x', previous_response_id: 'resp_nope' }),
  );
  out.response_no_input = await attempt(() => client.responses.create({ model: 'claw' }));
  return out;
}

async function suspended() {
  // retries allowed: the gateway's x-should-retry: false must stop them
  const retrying = new OpenAI({ baseURL, apiKey, maxRetries: 2 });
  return {
    chat: await attempt(() =>
      retrying.chat.completions.create({
        model: 'claw',
        messages: [{ role: 'user', content: 'while suspended' }],
      }),
    ),
    response: await attempt(() =>
      client.responses.create({ model: 'claw', input: 'while suspended' }),
    ),
  };
}

async function runtimeDown() {
  return {
    chat: await attempt(() =>
      client.chat.completions.create({ model: 'claw', messages: [{ role: 'user', content: 'down' }] }),
    ),
    chat_stream: await attempt(() =>
      chatChunks({ model: 'claw', messages: [{ role: 'user', content: 'down stream' }] }),
    ),
    response: await attempt(() => client.responses.create({ model: 'claw', input: 'down' })),
    response_events: await attempt(() => responseEvents({ model: 'claw', input: 'down events' })),
  };
}

const scenarios = { main, suspended, runtime_down: runtimeDown };
const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(await run()) + '\n');
