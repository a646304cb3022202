#!/usr/bin/env node
// A small devp2p peer for loopback interoperability tests, built on
// @ethereumjs/devp2p's RLPx class (no discovery). Driven by flags; reports
// what happens as one JSON object per line on stdout. See README.md.
//
// Exit codes: 0 normal (timeout, --exit-after-close, signal), 1 fatal error,
// 2 bad usage.

import { DisconnectReasonNames, Peer, RLPx } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, hexToBytes, utf8ToBytes } from '@ethereumjs/util'
import * as snappy from 'snappyjs'

import {
  commonFlags,
  emit,
  errorMessage,
  exit,
  parseEnode,
  parseFlags,
  parseHex,
  parseIntFlag,
  run,
  usageError,
} from './common.mjs'

const USAGE = `usage: node peer.mjs --key HEX [options]

  --key HEX                     32-byte secp256k1 private key (hex, 0x optional)
  --port N                      listen on 127.0.0.1:N (0 = any free port; default 0)
  --dial ENODE                  after listening, dial enode://ID@127.0.0.1:PORT
                                (loopback only)
  --cap NAME/VER[/LEN]          advertise a capability with LEN message codes
                                (repeatable; default tst/1/4)
  --send-after-hello HEX        when a peer is added, send message code 0 of
                                the first --cap with this RLP payload
  --disconnect-after-message N  after the first sub-protocol message, send
                                Disconnect with reason N
  --client-id STR               Hello client id (default: the library's)
  --hello-port N|none           Hello listen port (default: the bound port;
                                none = empty field)
  --max-peers N                 RLPx maxPeers (default: the library's, 10)
  --exit-after-close            exit once the first connection's socket closed
  --timeout SECONDS             exit after this long (default 20)
`

// ----------------------------------------------------------------- flags

function parseArgs(argv) {
  const opts = {
    key: null,
    port: 0,
    dial: null,
    caps: [],
    sendAfterHello: null,
    disconnectAfterMessage: null,
    clientId: null,
    helloPort: 'bound',
    maxPeers: null,
    exitAfterClose: false,
    timeout: 20,
  }
  parseFlags(argv, {
    script: 'peer.mjs',
    usageText: USAGE,
    switches: { '--exit-after-close': () => (opts.exitAfterClose = true) },
    flags: {
      ...commonFlags(opts),
      '--dial': (v) => {
        const e = parseEnode(v, '--dial', ['127.0.0.1', '::1'])
        opts.dial = { id: hexToBytes(`0x${e.id}`), address: e.address, tcpPort: e.tcpPort }
      },
      '--cap': (v) => opts.caps.push(parseCap(v)),
      '--send-after-hello': (v) => (opts.sendAfterHello = parseHex(v, '--send-after-hello')),
      '--disconnect-after-message': (v) =>
        (opts.disconnectAfterMessage = parseIntFlag(v, '--disconnect-after-message', 0, 255)),
      '--client-id': (v) => (opts.clientId = v),
      '--hello-port': (v) =>
        (opts.helloPort = v === 'none' ? null : parseIntFlag(v, '--hello-port', 1, 65535)),
      '--max-peers': (v) => (opts.maxPeers = parseIntFlag(v, '--max-peers', 0, 1000)),
    },
  })
  if (opts.key === null) usageError('--key is required')
  if (opts.caps.length === 0) opts.caps.push({ name: 'tst', version: 1, length: 4 })
  return opts
}

function parseCap(value) {
  const m = /^([A-Za-z0-9_]{1,8})\/([0-9]+)(?:\/([0-9]+))?$/.exec(value)
  if (!m) usageError(`--cap: expected NAME/VER[/LEN], got ${value}`)
  const version = Number(m[2])
  const length = m[3] === undefined ? 4 : Number(m[3])
  // The library encodes the version with intToBytes, which gives a
  // non-canonical 0x00 for 0; keep to versions a strict peer accepts.
  if (version < 1 || version > 255) usageError(`--cap: version must be 1..255: ${value}`)
  if (length < 1 || length > 100) usageError(`--cap: length must be 1..100: ${value}`)
  return { name: m[1], version, length }
}

// ------------------------------------------------------- test sub-protocol

let opts = null
let messagesSeen = 0

function remoteUsesSnappy(peer) {
  const hello = peer.getHelloMessage()
  return hello !== null && hello.protocolVersion >= 5
}

// One protocol class per advertised capability. The Peer constructs it as
// new C(version, peer, send) once the Hello exchange found the capability
// shared, and hands it every message in the capability's code range as
// _handleMessage(code - offset, payload); send(code, bytes) adds the offset.
// The package does not export its Protocol base class (index exports only
// ETH and SNAP), and that base would also disconnect with TIMEOUT after 5 s
// without an eth STATUS, so this is a plain class with the same shape.
function makeProtocolClass(cap) {
  return class TestProtocol {
    constructor(version, peer, send) {
      this._version = version
      this._peer = peer
      this._send = send
      this.cap = cap
    }

    // payload: the message body after the code byte, already
    // snappy-decompressed by the Peer when the remote Hello said version >= 5.
    _handleMessage(code, payload) {
      const peer = this._peer
      emit({
        event: 'message',
        id: idHex(peer),
        cap: `${cap.name}/${cap.version}`,
        code,
        payload: bytesToUnprefixedHex(payload),
      })
      messagesSeen++
      if (opts.disconnectAfterMessage !== null && messagesSeen === 1) {
        const reason = opts.disconnectAfterMessage
        emit({ event: 'disconnect_sent', id: idHex(peer), reason, reason_text: reasonText(reason) })
        peer.disconnect(reason)
      }
    }

    sendRaw(code, payload) {
      // The Peer never compresses sub-protocol messages itself; each
      // protocol does it (like the library's ETH/SNAP) when the remote
      // speaks devp2p >= 5.
      const wire = remoteUsesSnappy(this._peer) ? snappy.compress(payload) : payload
      this._send(code, wire)
    }
  }
}

// ------------------------------------------------------------------ helpers

function idHex(peer) {
  const id = peer.getId()
  return id === null ? null : bytesToUnprefixedHex(id)
}

function reasonText(reason) {
  if (reason === undefined || reason === null) return null
  return DisconnectReasonNames[reason] ?? `UNKNOWN_${reason}`
}

// --------------------------------------------------------------------- main

function main() {
  opts = parseArgs(process.argv.slice(2))

  const capabilities = opts.caps.map((c) => ({
    name: c.name,
    version: c.version,
    length: c.length,
    constructor: makeProtocolClass(c),
  }))

  const rlpxOptions = { capabilities }
  if (opts.clientId !== null) rlpxOptions.clientId = utf8ToBytes(opts.clientId)
  if (opts.maxPeers !== null) rlpxOptions.maxPeers = opts.maxPeers
  if (typeof opts.helloPort === 'number') rlpxOptions.listenPort = opts.helloPort

  const rlpx = new RLPx(opts.key, rlpxOptions)

  // Socket bookkeeping, outside the library: which sockets are inbound,
  // and a report when any connection's socket closes (the library reports
  // nothing for connections that never got past the Hello exchange).
  const sockets = new WeakMap() // net.Socket -> { inbound, added }
  let closedConnections = 0
  function track(socket, inbound, address) {
    if (sockets.has(socket)) return
    const entry = { inbound, added: false }
    sockets.set(socket, entry)
    socket.once('close', (hadError) => {
      // Let the library's own close handlers (peer:removed) report first.
      setImmediate(() => {
        emit({
          event: 'socket_closed',
          inbound,
          address,
          peer_added: entry.added,
          had_error: hadError,
        })
        closedConnections++
        if (opts.exitAfterClose && closedConnections === 1) exit(0, 'closed')
      })
    })
  }

  rlpx.events.on('listening', () => {
    const server = rlpx._server
    server.on('connection', (socket) =>
      track(socket, true, `${socket.remoteAddress}:${socket.remotePort}`),
    )
    const port = server.address().port
    // The RLPx reads _listenPort for each new connection's Hello.
    if (opts.helloPort === 'bound') rlpx._listenPort = port
    emit({ event: 'listening', enode: `enode://${bytesToUnprefixedHex(rlpx.id)}@127.0.0.1:${port}` })
    if (opts.dial !== null) dial(rlpx, opts.dial, track)
  })

  rlpx.events.on('error', (err) => {
    emit({ event: 'error', message: `rlpx: ${errorMessage(err)}` })
    exit(1, 'fatal')
  })

  rlpx.events.on('peer:error', (peer, err) => {
    emit({ event: 'error', id: idHex(peer), message: `peer: ${errorMessage(err)}` })
  })

  rlpx.events.on('peer:added', (peer) => {
    const entry = sockets.get(peer._socket)
    if (entry !== undefined) entry.added = true
    const hello = peer.getHelloMessage()
    const ecies = peer._eciesSession
    emit({
      event: 'peer_added',
      id: idHex(peer),
      name: hello.clientId,
      caps: hello.capabilities.map((c) => `${c.name}/${c.version}`),
      inbound: entry !== undefined ? entry.inbound : null,
      protocol_version: hello.protocolVersion,
      listen_port: hello.port,
      address: `${peer._socket.remoteAddress}:${peer._socket.remotePort}`,
      eip8_auth: ecies._gotEIP8Auth === true,
      eip8_ack: ecies._gotEIP8Ack === true,
      shared: peer._protocols.map((p) => ({
        cap: `${p.protocol.cap.name}/${p.protocol.cap.version}`,
        offset: p.offset,
        length: p.length,
      })),
    })
    if (opts.sendAfterHello !== null) {
      const first = opts.caps[0]
      const proto = peer
        .getProtocols()
        .find((p) => p.cap.name === first.name && p.cap.version === first.version)
      if (proto === undefined) {
        emit({
          event: 'error',
          id: idHex(peer),
          message: `send-after-hello: ${first.name}/${first.version} not shared with this peer`,
        })
        return
      }
      proto.sendRaw(0, opts.sendAfterHello)
      emit({
        event: 'sent',
        id: idHex(peer),
        cap: `${first.name}/${first.version}`,
        code: 0,
        payload: bytesToUnprefixedHex(opts.sendAfterHello),
      })
    }
  })

  rlpx.events.on('peer:removed', (peer, reason, disconnectWe) => {
    const out = {
      event: 'peer_removed',
      id: idHex(peer),
      reason: reason === undefined ? null : reason,
      reason_text: reasonText(reason),
    }
    // disconnectWe: true = we sent Disconnect, false = the remote did,
    // null = the socket closed without a Disconnect message.
    if (typeof disconnectWe === 'boolean') out.remote = !disconnectWe
    emit(out)
  })

  rlpx.listen(opts.port, '127.0.0.1')
  return opts.timeout
}

function dial(rlpx, target, track) {
  emit({ event: 'dialing', address: `${target.address}:${target.tcpPort}` })
  // connect() is async: its checks ("Already connected", "Too many peers")
  // reject the promise; otherwise it registers the socket synchronously,
  // before its first await.
  const promise = rlpx.connect({ id: target.id, address: target.address, tcpPort: target.tcpPort })
  const socket = rlpx._peers.get(bytesToUnprefixedHex(target.id))
  const tracked = socket !== undefined && !(socket instanceof Peer)
  if (tracked) track(socket, false, `${target.address}:${target.tcpPort}`)
  promise.catch((err) => {
    emit({ event: 'error', message: `dial: ${errorMessage(err)}` })
    // A socket that was opened reports its close (socket_closed); one that
    // never was has nothing left to wait for.
    if (!tracked && opts.exitAfterClose) exit(0, 'dial_failed')
  })
}

run(main)
