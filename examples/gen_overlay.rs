//! Writes a generated kustomize tree for the render benchmark: a base of N/4 Deployments,
//! N/4 Services, N/4 ConfigMaps and N/4 ServiceAccounts, and an overlay that adds a namespace, a
//! prefix, labels, annotations, an image override, replicas, a strategic-merge patch on every
//! Deployment, a JSON 6902 patch, and generators whose names must be rewritten everywhere.
//! See `benches/render-vs-kustomize.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: gen_overlay DIR [N]"));
    let n: usize = args.next().map_or(1000, |s| s.parse().expect("N must be a number"));
    let per = n / 4;
    std::fs::create_dir_all(dir.join("base")).unwrap();
    std::fs::create_dir_all(dir.join("overlay")).unwrap();
    let mut all = String::new();
    for i in 0..per {
        let _ = write!(
            all,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      serviceAccountName: sa-{i}\n      containers:\n      - name: app\n        image: registry.example.com/app:1.0\n        envFrom:\n        - configMapRef:\n            name: shared\n        volumeMounts:\n        - name: cfg\n          mountPath: /etc/app\n      volumes:\n      - name: cfg\n        configMap:\n          name: cfg-{i}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\ndata:\n  key: value-{i}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-{i}\n---\n"
        );
    }
    std::fs::write(dir.join("base/resources.yaml"), all).unwrap();
    std::fs::write(
        dir.join("base/kustomization.yaml"),
        "resources:\n- resources.yaml\nconfigMapGenerator:\n- name: shared\n  literals:\n  - LOG_LEVEL=info\n  - REGION=eu-west-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("overlay/kustomization.yaml"),
        "resources:\n- ../base\nnamespace: bench\nnamePrefix: prod-\ncommonLabels:\n  env: prod\ncommonAnnotations:\n  team: payments\nimages:\n- name: registry.example.com/app\n  newTag: \"2.0\"\nreplicas:\n- name: app-0\n  count: 3\nconfigMapGenerator:\n- name: shared\n  behavior: merge\n  literals:\n  - LOG_LEVEL=warn\nsecretGenerator:\n- name: creds\n  literals:\n  - token=not-a-real-token\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: any\n    spec:\n      template:\n        spec:\n          containers:\n          - name: app\n            resources:\n              limits:\n                memory: 256Mi\n- target:\n    kind: Service\n  patch: |-\n    - op: add\n      path: /spec/ports/0/name\n      value: http\n",
    )
    .unwrap();
}
