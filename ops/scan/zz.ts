import { auditedPackages, findVulnerabilities, loadAdvisories } from "./audit.ts";
const inputs = {
  root: "/work/wt-scan",
  synapsePython: "/work/main/.tools/synapse-1.163.2/bin/python",
  goBinaries: {
    "livekit-server": "/work/main/.tools/livekit-1.13.5/server",
    helm: "/work/main/.tools/helm-3.22.0/helm",
    gitleaks: "/work/main/.tools/gitleaks-8.30.1/gitleaks",
  },
  advisoryFolders: ["/root/go/pkg/mod/golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018/data/osv"],
};
let t = Date.now();
const idx = loadAdvisories(inputs.advisoryFolders);
console.log("load", Date.now() - t, idx.perEcosystem);
t = Date.now();
const pk = auditedPackages(inputs);
const f = findVulnerabilities(pk, idx);
console.log("find", Date.now() - t, pk.length, f.length);
for (const x of f)
  console.log(x.advisory, x.pkg.name, x.pkg.version, x.pkg.usedBy, x.fixed.join(","), x.summary.slice(0, 80));
