// A real Wechaty PuppetServer around a mock puppet with a scripted world, for the bot's test suite.
// gRPC on 127.0.0.1:$GRPC_PORT (TLS=1: the stock 1.x TLS, its built-in certificate for the server name
// "insecure", signed by the Wechaty root CA; else no TLS), control API on 127.0.0.1:$CONTROL_PORT:
//   POST /say {from, text, room?, mentions?}   a person speaks (in a room, or privately to the bot)
//   GET  /sent                                 what the bot sent, with mention ids
//   POST /error {data}                         emit an error event (the 1.x server sends it as {"gerror": …})
//   POST /file {from, room?, name, base64}     a person posts a file (an attachment message)
//   POST /logout, POST /login                  the WeChat account logs out / back in
//   GET  /health
import fs from 'node:fs'
import http from 'node:http'
import { PuppetServer } from 'wechaty-puppet-service'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import * as PUPPET from 'wechaty-puppet'
import { FileBox } from 'file-box'

const world = JSON.parse(fs.readFileSync(process.env.WORLD_FILE, 'utf8'))
const GRPC_PORT = Number(process.env.GRPC_PORT)
const CONTROL_PORT = Number(process.env.CONTROL_PORT)
const TOKEN = process.env.TOKEN || 'test-token'

class RecordingPuppet extends PuppetMock {
  constructor (options) {
    super(options)
    this.sent = []
  }

  // the mock's own messageSendText drops mention ids and returns no id: record sends here
  async messageSendText (conversationId, text, mentionIdList) {
    const id = `sent-${this.sent.length + 1}`
    this.sent.push({ id, conversationId, text, mentionIdList: mentionIdList || [], at: Date.now() })
    return id
  }

  async messageSendFile (conversationId, fileBox) {
    const id = `sent-${this.sent.length + 1}`
    const data = await fileBox.toBuffer()
    this.sent.push({ id, conversationId, text: '', file: fileBox.name, size: data.length, mentionIdList: [], at: Date.now() })
    return id
  }

  // the mock gives a file message no name and no attachment type: give it both, as WeChat does
  async messageRawPayload (id) {
    const payload = await super.messageRawPayload(id)
    const json = mocker.cacheFileBoxPayload.get(id)
    if (json) {
      const box = FileBox.fromJSON(json)
      return { ...payload, type: PUPPET.types.Message.Attachment, filename: box.name }
    }
    return payload
  }

  async onStart () {
    await super.onStart()
    setTimeout(() => mocker.login(user), 50)
  }
}

const mocker = new mock.Mocker()
const puppet = new RecordingPuppet({ mocker })
const contacts = new Map()
const user = mocker.createContact({ id: world.bot.id, name: world.bot.nickname || world.bot.name })
for (const c of world.contacts) {
  contacts.set(c.id, mocker.createContact({ id: c.id, name: c.name }))
}
const rooms = new Map()
for (const r of world.rooms) {
  rooms.set(r.id, mocker.createRoom({ id: r.id, topic: r.topic, memberIdList: [world.bot.id, ...r.members] }))
}

const tls = process.env.TLS === '1' ? {} : { disable: true }
const server = new PuppetServer({ endpoint: `127.0.0.1:${GRPC_PORT}`, puppet, token: TOKEN, tls })
await server.start()

function body (req) {
  return new Promise((resolve) => {
    let data = ''
    req.on('data', (chunk) => { data += chunk })
    req.on('end', () => resolve(data ? JSON.parse(data) : {}))
  })
}

http.createServer(async (req, res) => {
  const reply = (code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)) }
  try {
    if (req.method === 'GET' && req.url === '/health') return reply(200, { ok: true, loggedIn: puppet.isLoggedIn })
    if (req.method === 'GET' && req.url === '/sent') return reply(200, puppet.sent)
    if (req.method === 'POST' && req.url === '/say') {
      const b = await body(req)
      const talker = contacts.get(b.from)
      if (!talker) return reply(404, { error: `no contact ${b.from}` })
      const mentions = (b.mentions || []).map((id) => id === world.bot.id ? user : contacts.get(id)).filter(Boolean)
      talker.say(b.text, mentions).to(b.room ? rooms.get(b.room) : user)
      return reply(200, { ok: true })
    }
    if (req.method === 'POST' && req.url === '/file') {
      const b = await body(req)
      const talker = contacts.get(b.from)
      if (!talker) return reply(404, { error: `no contact ${b.from}` })
      talker.say(FileBox.fromBase64(b.base64, b.name)).to(b.room ? rooms.get(b.room) : user)
      return reply(200, { ok: true })
    }
    if (req.method === 'POST' && req.url === '/logout') {
      await puppet.logout()
      return reply(200, { ok: true })
    }
    if (req.method === 'POST' && req.url === '/login') {
      mocker.login(user)
      return reply(200, { ok: true })
    }
    if (req.method === 'POST' && req.url === '/error') {
      const b = await body(req)
      puppet.emit('error', { data: b.data || 'scripted error' })
      return reply(200, { ok: true })
    }
    reply(404, { error: 'unknown route' })
  } catch (e) {
    reply(500, { error: String(e) })
  }
}).listen(CONTROL_PORT, '127.0.0.1', () => console.log(`ready grpc=${GRPC_PORT} control=${CONTROL_PORT}`))

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => { await server.stop().catch(() => {}); process.exit(0) })
}
