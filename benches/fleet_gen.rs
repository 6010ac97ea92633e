//! Generates a fleet of Deployments for benchmarks: desired manifests as Git holds them, and
//! live objects as the API server returns them (server defaults, status, managedFields).
//! Every tenth live object carries drift (an edited image and an added env var).

use serde_json::{Value, json};

/// The desired Deployment number `i`.
pub fn desired(i: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("app-{i}"), "namespace": "fleet", "labels": {"app": format!("app-{i}"), "team": "payments"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": format!("app-{i}")}},
            "template": {
                "metadata": {"labels": {"app": format!("app-{i}")}},
                "spec": {"containers": [{
                    "name": "app", "image": format!("registry.example.com/app:{}", i % 50),
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}],
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}}
                }]}
            }
        }
    })
}

/// The live Deployment number `i`, with defaults, status and managedFields.
pub fn live(i: usize) -> Value {
    let drifted = i.is_multiple_of(10);
    let image = if drifted {
        "registry.example.com/app:hotfix".to_owned()
    } else {
        format!("registry.example.com/app:{}", i % 50)
    };
    let mut env = vec![json!({"name": "LOG_LEVEL", "value": "info"}), json!({"name": "REGION", "value": "eu-west-1"})];
    let mut managed = vec![
        json!({
            "manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1", "time": "2026-11-28T02:03:09Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}, "f:team": {}}}, "f:spec": {"f:replicas": {}, "f:selector": {},
                "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:env": {"k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:value": {}}, "k:{\"name\":\"REGION\"}": {".": {}, "f:name": {}, "f:value": {}}},
                    "f:image": {}, "f:name": {}, "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}}},
                    "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}, "f:requests": {"f:cpu": {}, "f:memory": {}}}}}}}}}
        }),
        json!({
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1", "subresource": "status", "time": "2026-11-28T02:03:12Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}, "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}}
        }),
    ];
    if drifted {
        env.push(json!({"name": "DEBUG", "value": "true"}));
        managed.push(json!({"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-11-28T03:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {"f:image": {}, "f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}));
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": format!("app-{i}"), "namespace": "fleet", "uid": format!("9f1c0d2e-0000-4000-8000-{i:012}"),
            "resourceVersion": format!("{}", 1000 + i), "generation": 1, "creationTimestamp": "2026-11-28T02:03:09Z",
            "labels": {"app": format!("app-{i}"), "team": "payments"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "managedFields": managed
        },
        "spec": {
            "replicas": 3, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": format!("app-{i}")}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": format!("app-{i}")}},
                "spec": {
                    "containers": [{
                        "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                        "env": env,
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {"availableReplicas": 3, "observedGeneration": 1, "readyReplicas": 3, "replicas": 3, "updatedReplicas": 3,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastTransitionTime": "2026-11-28T02:03:12Z", "lastUpdateTime": "2026-11-28T02:03:12Z", "message": "Deployment has minimum availability."}]}
    })
}
