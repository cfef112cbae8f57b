/**
 * The dialog's styles. They live in the dialog's shadow root, so nothing here
 * reaches the host page and the page's styles do not reach in (the host
 * element itself is reset with `all: initial`).
 */
export const STYLES = `
:host{all:initial;position:fixed;inset:0;z-index:2147483647;display:block}
*{box-sizing:border-box}
.backdrop{position:fixed;inset:0;display:flex;align-items:center;justify-content:center;padding:12px;
background:rgba(15,23,42,.5);animation:fade .16s ease-out}
.card{--brand:#4f46e5;--brand-soft:#eef2ff;--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--rail:#f1f5f9;--bg:#fff;--ok:#059669;--bad:#dc2626;
position:relative;width:100%;max-width:360px;max-height:calc(100% - 8px);overflow:auto;padding:20px;border-radius:16px;background:var(--bg);color:var(--ink);
font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei",Roboto,"Helvetica Neue",Arial,sans-serif;
box-shadow:0 24px 48px -12px rgba(15,23,42,.35),0 0 0 1px rgba(15,23,42,.06);animation:pop .2s cubic-bezier(.2,.9,.3,1.2);outline:none;
-webkit-text-size-adjust:100%;text-align:left}
.head{display:flex;align-items:flex-start;gap:12px;margin-bottom:14px}
.head>div{flex:1;min-width:0}
h2{margin:0;font-size:17px;font-weight:650;letter-spacing:-.01em}
.desc{margin:2px 0 0;color:var(--muted);font-size:13px}
button{font:inherit;color:inherit;cursor:pointer;-webkit-tap-highlight-color:transparent}
.close{flex:none;width:36px;height:36px;margin:-8px -8px 0 0;border:0;border-radius:10px;background:transparent;color:var(--muted);display:grid;place-items:center}
.close:hover{background:var(--rail);color:var(--ink)}
:focus-visible{outline:2px solid var(--brand);outline-offset:2px}
.card:focus-visible,.drag .knob:focus-visible{outline:none}
.puzzle{position:relative;width:100%;aspect-ratio:2/1;border-radius:10px;overflow:hidden;background:var(--rail);user-select:none;-webkit-user-select:none}
.puzzle img{position:absolute;display:block;pointer-events:none;-webkit-user-drag:none}
.bg{inset:0;width:100%;height:100%}
.piece{filter:drop-shadow(0 2px 3px rgba(0,0,0,.45)) drop-shadow(0 0 1px rgba(255,255,255,.9));will-change:left}
.spinner{position:absolute;inset:0;display:grid;place-items:center;color:var(--muted);font-size:13px}
.spinner::before{content:"";width:22px;height:22px;margin-bottom:28px;border-radius:50%;border:3px solid var(--line);border-top-color:var(--brand);animation:spin .8s linear infinite;grid-area:1/1}
.spinner span{grid-area:1/1;margin-top:26px}
.rail{position:relative;height:44px;margin-top:12px;border-radius:10px;background:var(--rail);border:1px solid var(--line);touch-action:none;user-select:none;-webkit-user-select:none}
.fill{position:absolute;left:0;top:0;bottom:0;border-radius:9px;background:var(--brand-soft);border:1px solid #c7d2fe;border-right:0;opacity:0}
.hint{position:absolute;inset:0;display:grid;place-items:center;padding-left:18%;color:var(--muted);font-size:13px;pointer-events:none;transition:opacity .2s}
.knob{position:absolute;top:-1px;bottom:-1px;left:0;width:17.5%;border-radius:10px;background:var(--bg);border:1px solid var(--line);
box-shadow:0 1px 2px rgba(15,23,42,.08),0 2px 6px rgba(15,23,42,.08);display:grid;place-items:center;color:var(--brand);cursor:grab;touch-action:none;
transition:background .15s,border-color .15s,color .15s}
.knob:hover{border-color:#c7d2fe}
.knob svg{width:20px;height:20px}
.drag .knob{cursor:grabbing;background:var(--brand);border-color:var(--brand);color:#fff}
.drag .fill,.moved .fill{opacity:1}
.drag .hint,.moved .hint{opacity:0}
.busy .knob{cursor:progress}
.ok .knob{background:var(--ok);border-color:var(--ok);color:#fff}
.ok .fill{background:#d1fae5;border-color:#a7f3d0}
.bad .knob{background:var(--bad);border-color:var(--bad);color:#fff}
.bad .fill{background:#fee2e2;border-color:#fecaca}
.bad .puzzle{animation:shake .36s}
.status{min-height:19px;margin:8px 0 0;font-size:13px;color:var(--muted)}
.status.error{color:var(--bad)}
.status.success{color:var(--ok);font-weight:600}
.foot{margin-top:8px;padding-top:10px;border-top:1px solid var(--line);font-size:11px;color:var(--muted);display:flex;align-items:center;gap:6px}
.foot svg{width:12px;height:12px}
form{display:grid;gap:10px;margin:0}
.number{margin:0;font-size:14px}
.number strong{font-variant-numeric:tabular-nums;letter-spacing:.02em}
label{font-size:13px;font-weight:600}
.code{width:100%;height:48px;padding:0 14px;border:1px solid var(--line);border-radius:10px;background:var(--bg);color:var(--ink);
font:600 22px/1 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.35em;text-align:center}
.code::placeholder{color:var(--muted);opacity:.45;letter-spacing:.35em}
.code:focus{outline:2px solid var(--brand);outline-offset:0;border-color:var(--brand)}
.code[aria-invalid=true]{border-color:var(--bad)}
.row{display:flex;gap:10px;align-items:center;margin-top:2px}
.primary{flex:1;height:44px;border:0;border-radius:10px;background:var(--brand);color:#fff;font-weight:600}
.primary:disabled{opacity:.55;cursor:default}
.link{height:44px;padding:0 10px;border:0;border-radius:10px;background:transparent;color:var(--brand);font-weight:600;white-space:nowrap}
.link:disabled{color:var(--muted);cursor:default}
@keyframes spin{to{transform:rotate(360deg)}}
@keyframes fade{from{opacity:0}}
@keyframes pop{from{opacity:0;transform:translateY(8px) scale(.97)}}
@keyframes shake{20%,60%{transform:translateX(-6px)}40%,80%{transform:translateX(6px)}}
@media (max-width:400px){.backdrop{align-items:flex-end;padding:0}.card{max-width:none;border-radius:16px 16px 0 0;padding:18px 16px calc(16px + env(safe-area-inset-bottom))}}
@media (prefers-color-scheme:dark){.card{--brand:#818cf8;--brand-soft:#312e81;--ink:#e2e8f0;--muted:#94a3b8;--line:#334155;--rail:#1e293b;--bg:#0f172a;--ok:#34d399;--bad:#f87171}
.fill{border-color:#4338ca}.ok .fill{background:#064e3b;border-color:#065f46}.bad .fill{background:#7f1d1d;border-color:#991b1b}.drag .knob{color:#0f172a}}
@media (prefers-reduced-motion:reduce){*,::before{animation:none!important;transition:none!important}}
`;
