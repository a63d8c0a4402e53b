// The panel's look, inside its shadow root (the page's CSS neither leaks in nor out).

export const CSS = `
:host { display: block; height: 100%; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; }
.panel { display: flex; flex-direction: column; height: 100%; min-height: 420px;
  border: 1px solid #d6dae3; border-radius: 8px; overflow: hidden; background: #fff; }
header { display: flex; justify-content: space-between; align-items: center;
  padding: 8px 12px; background: #f3f5f9; border-bottom: 1px solid #d6dae3; }
.state { font-size: 12px; color: #5b6478; display: flex; align-items: center; gap: 6px; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #b0b6c3; display: inline-block; }
:host([data-state="connected"]) .dot { background: #2eaa5c; }
:host([data-state="reconnecting"]) .dot, :host([data-state="connecting"]) .dot { background: #e0a400; }
:host([data-state="unauthorized"]) .dot, :host([data-state="disconnected"]) .dot { background: #d33c3c; }
.body { display: flex; flex: 1; min-height: 0; }
.chats { width: 38%; max-width: 280px; border-right: 1px solid #e3e6ed; overflow-y: auto; }
.chat-list { list-style: none; margin: 0; padding: 0; }
.chat { display: grid; grid-template-columns: 1fr auto; gap: 2px 6px; padding: 8px 10px;
  border-bottom: 1px solid #eef0f4; cursor: pointer; }
.chat:hover, .chat:focus { background: #f6f8fc; outline: none; }
.chat[aria-selected="true"] { background: #e8effd; }
.chat[data-status="4"] { opacity: 0.6; }
.name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.unread { background: #2f6fed; color: #fff; border-radius: 10px; padding: 0 7px; font-size: 12px;
  align-self: center; }
.preview { grid-column: 1 / -1; color: #5b6478; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; font-size: 13px; }
.chat .meta { grid-column: 1 / -1; display: flex; gap: 8px; font-size: 11px; color: #8a92a6; }
.empty { padding: 12px; color: #8a92a6; }
.more-chats, .older { display: block; width: 100%; padding: 6px; border: 0; font: inherit;
  font-size: 13px; background: #f3f5f9; color: #2f6fed; cursor: pointer; }
.more-chats[hidden], .older[hidden] { display: none; }
.conversation { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.conversation-head { display: flex; justify-content: space-between; align-items: center;
  padding: 8px 12px; border-bottom: 1px solid #e3e6ed; }
.who { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.messages { list-style: none; margin: 0; padding: 12px; flex: 1; overflow-y: auto;
  display: flex; flex-direction: column; gap: 6px; background: #fafbfd; }
.message { max-width: 75%; padding: 6px 10px; border-radius: 10px; background: #fff;
  border: 1px solid #e3e6ed; align-self: flex-start; }
.message.operator { align-self: flex-end; background: #dfeafe; border-color: #c7d8fb; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.message .meta { font-size: 11px; color: #8a92a6; text-align: right; display: flex;
  justify-content: flex-end; gap: 4px; }
.message[data-status="2"] .mark { color: #d33c3c; }
.media img { max-width: 220px; max-height: 220px; border-radius: 6px; display: block; }
.media.unavailable .media-name::after { content: " (unavailable)"; color: #8a92a6; }
.reply { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e3e6ed; align-items: flex-end; }
.reply-text { flex: 1; resize: none; font: inherit; padding: 6px; border: 1px solid #cfd4de;
  border-radius: 6px; }
.attach { cursor: pointer; font-size: 13px; padding: 6px 8px; border: 1px solid #cfd4de;
  border-radius: 6px; color: #2f6fed; }
.attach { position: relative; }
.attach input { position: absolute; inset: 0; width: 100%; height: 100%; opacity: 0;
  cursor: pointer; }
.send { font: inherit; padding: 6px 14px; border: 0; border-radius: 6px; background: #2f6fed;
  color: #fff; cursor: pointer; }
.send:disabled { background: #b0b6c3; cursor: default; }
.notice { padding: 6px 12px; background: #fff4e5; color: #7a4b00; font-size: 13px;
  border-top: 1px solid #f3d9b1; }
.notice[hidden] { display: none; }
`;
