//! What the API server sets outside Kubernetes' defaulting functions, kept by hand: admission
//! plugins, registry strategies, allocations, conversions and controllers. Each row names where
//! in Kubernetes it comes from. The generated rows are in `table.rs`.

use super::Expect::{Any, Bool, Int, Ints, Prefix, Str, Strs};
use super::{Expect, Extra};

/// A row for every kind of every group.
const fn all(pattern: &'static str, expect: Expect) -> Extra {
    Extra { group: None, kinds: &[], pattern, expect }
}

/// A row for some kinds of one group.
const fn of(group: &'static str, kinds: &'static [&'static str], pattern: &'static str, expect: Expect) -> Extra {
    Extra { group: Some(group), kinds, pattern, expect }
}

/// Kinds whose pod template gets the same conversion as a Pod.
const POD_TEMPLATES: &[&str] = &[
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
];

pub(super) static ROWS: &[Extra] = &[
    // every object: status and metadata the server or controllers own
    all("^status", Any),
    // finalizers: StorageObjectInUseProtection admission (pvc/pv-protection), namespace lifecycle, controllers
    all("^metadata.finalizers", Any),
    // ownerReferences: set by controllers (garbage collector owners)
    all("^metadata.ownerReferences", Any),
    // pod specs: the deprecated serviceAccount mirrors serviceAccountName
    // (pkg/apis/core/v1/conversion.go, Convert_core_PodSpec_To_v1_PodSpec)
    of("", POD_TEMPLATES, "spec.serviceAccount", Any),
    of("apps", POD_TEMPLATES, "spec.serviceAccount", Any),
    of("batch", POD_TEMPLATES, "spec.serviceAccount", Any),
    // Pod: ServiceAccount admission (plugin/pkg/admission/serviceaccount/admission.go)
    of("", &["Pod"], "^spec.serviceAccountName", Str("default")),
    of("", &["Pod"], "^spec.volumes.[].name", Prefix("kube-api-access-")),
    of(
        "",
        &["Pod"],
        "^spec.containers|initContainers|ephemeralContainers.[].volumeMounts.[].name",
        Prefix("kube-api-access-"),
    ),
    of(
        "",
        &["Pod"],
        "^spec.containers|initContainers|ephemeralContainers.[].volumeMounts.[].mountPath",
        Str("/var/run/secrets/kubernetes.io/serviceaccount"),
    ),
    of("", &["Pod"], "^spec.containers|initContainers|ephemeralContainers.[].volumeMounts.[].readOnly", Bool(true)),
    // the projected kube-api-access volume: token (3607 s: 1 h plus the plugin's 7 s skew), CA, namespace
    of("", &["Pod"], "^spec.volumes.[].projected.sources.[].serviceAccountToken.expirationSeconds", Int(3607)),
    of("", &["Pod"], "^spec.volumes.[].projected.sources.[].serviceAccountToken.path", Str("token")),
    of("", &["Pod"], "^spec.volumes.[].projected.sources.[].configMap.name", Str("kube-root-ca.crt")),
    of("", &["Pod"], "^spec.volumes.[].projected.sources.[].configMap.items.[].key|path", Str("ca.crt")),
    of(
        "",
        &["Pod"],
        "^spec.volumes.[].projected.sources.[].downwardAPI.items.[].fieldRef.fieldPath",
        Str("metadata.namespace"),
    ),
    of("", &["Pod"], "^spec.volumes.[].projected.sources.[].downwardAPI.items.[].path", Str("namespace")),
    // Pod: DefaultTolerationSeconds admission (plugin/pkg/admission/defaulttolerationseconds)
    of(
        "",
        &["Pod"],
        "^spec.tolerations.[].key",
        Strs(&["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]),
    ),
    of("", &["Pod"], "^spec.tolerations.[].operator", Str("Exists")),
    of("", &["Pod"], "^spec.tolerations.[].effect", Str("NoExecute")),
    of("", &["Pod"], "^spec.tolerations.[].tolerationSeconds", Int(300)),
    // Pod: Priority admission (plugin/pkg/admission/priority): from the PriorityClass or the global default
    of("", &["Pod"], "^spec.priority", Any),
    of("", &["Pod"], "^spec.preemptionPolicy", Str("PreemptLowerPriority")),
    // Pod: RuntimeClass admission (plugin/pkg/admission/runtimeclass): the class's overhead
    of("", &["Pod"], "^spec.overhead", Any),
    // Pod: LimitRanger admission (plugin/pkg/admission/limitranger) names the limits it applied
    of("", &["Pod"], "^metadata.annotations.\"kubernetes.io/limit-ranger\"", Any),
    // Service: ClusterIP and NodePort allocation (pkg/registry/core/service/storage/alloc.go)
    of("", &["Service"], "^spec.clusterIP|clusterIPs|ipFamilies|ipFamilyPolicy|healthCheckNodePort", Any),
    of("", &["Service"], "^spec.ports.[].nodePort", Any),
    // PersistentVolumeClaim: DefaultStorageClass admission, the binder controller's volumeName,
    // and dataSource/dataSourceRef mirrored by the registry (pkg/api/persistentvolumeclaim/util.go)
    of("", &["PersistentVolumeClaim"], "^spec.storageClassName|volumeName", Any),
    of("", &["PersistentVolumeClaim"], "^spec.dataSource|dataSourceRef", Any),
    // Ingress: DefaultIngressClass admission (plugin/pkg/admission/network/defaultingressclass)
    of("networking.k8s.io", &["Ingress"], "^spec.ingressClassName", Any),
    // Namespace: the registry strategy adds the kubernetes finalizer (pkg/registry/core/namespace)
    of("", &["Namespace"], "^spec.finalizers", Any),
    // Secret: the token controller fills service-account token Secrets
    // (pkg/controller/serviceaccount/tokens_controller.go)
    of("", &["Secret"], "^data.token|namespace", Any),
    of("", &["Secret"], "^data.\"ca.crt\"", Any),
    of("", &["Secret"], "^metadata.annotations.\"kubernetes.io/service-account.uid\"", Any),
    // ServiceAccount: legacy token Secrets listed by the token controller
    of("", &["ServiceAccount"], "^secrets", Any),
    // ClusterRole: the aggregation controller writes the rules of an aggregated role
    // (pkg/controller/clusterroleaggregation)
    of("rbac.authorization.k8s.io", &["ClusterRole"], "^rules", Any),
    // Job: the registry strategy labels the Job and its pods with the new object's uid and name
    // (pkg/registry/batch/job/strategy.go, generateSelector)
    of(
        "batch",
        &["Job"],
        "^metadata.labels.\"controller-uid|job-name|batch.kubernetes.io/controller-uid|batch.kubernetes.io/job-name\"",
        Any,
    ),
    of(
        "batch",
        &["Job"],
        "^spec.template.metadata.labels.\"controller-uid|job-name|batch.kubernetes.io/controller-uid|batch.kubernetes.io/job-name\"",
        Any,
    ),
    of("batch", &["Job"], "^spec.selector.matchLabels.\"controller-uid|batch.kubernetes.io/controller-uid\"", Any),
    // DaemonSet: the registry strategy records the template generation (pkg/registry/apps/daemonset)
    of("apps", &["DaemonSet"], "^metadata.annotations.\"deprecated.daemonset.template.generation\"", Any),
    // StatefulSet: claim templates are written as full PersistentVolumeClaim objects
    of("apps", &["StatefulSet"], "^spec.volumeClaimTemplates.[].apiVersion", Str("v1")),
    of("apps", &["StatefulSet"], "^spec.volumeClaimTemplates.[].kind", Str("PersistentVolumeClaim")),
    // HorizontalPodAutoscaler v2: a declared behavior is completed from the default scaling
    // rules (pkg/apis/autoscaling/v2/defaults.go, GenerateHPAScaleUpRules/GenerateHPAScaleDownRules)
    of("autoscaling", &["HorizontalPodAutoscaler"], "^spec.behavior.scaleUp|scaleDown.selectPolicy", Str("Max")),
    of(
        "autoscaling",
        &["HorizontalPodAutoscaler"],
        "^spec.behavior.scaleUp|scaleDown.stabilizationWindowSeconds",
        Ints(&[0, 300]),
    ),
    of("autoscaling", &["HorizontalPodAutoscaler"], "^spec.behavior.scaleUp|scaleDown.policies", Any),
    of("autoscaling", &["HorizontalPodAutoscaler"], "^spec.behavior.scaleUp|scaleDown", Any),
    // CSIDriver: seLinuxMount defaults to false while the SELinuxMountReadWriteOncePod gate is
    // on (v1.28: pkg/apis/storage/v1/defaults.go, SetDefaults_CSIDriver)
    of("storage.k8s.io", &["CSIDriver"], "^spec.seLinuxMount", Bool(false)),
    // Pod with hostNetwork: hostPort copied from containerPort
    // (pkg/apis/core/v1/defaults.go, SetDefaults_Pod -> defaultHostNetworkPorts)
    of("", &["Pod"], "^spec.containers|initContainers.[].ports.[].hostPort", Any),
    // HorizontalPodAutoscaler v1: the CPU target is defaulted in conversion, not in a
    // defaulting function (pkg/apis/autoscaling/v1/conversion.go)
    of("autoscaling", &["HorizontalPodAutoscaler"], "^spec.targetCPUUtilizationPercentage", Int(80)),
    // CertificateSigningRequest: the registry strategy records the requester
    // (pkg/registry/certificates/certificates/strategy.go)
    of("certificates.k8s.io", &["CertificateSigningRequest"], "^spec.username|uid|groups|extra", Any),
    // Node: TaintNodesByCondition admission (plugin/pkg/admission/nodetaint)
    of("", &["Node"], "^spec.taints.[].key", Str("node.kubernetes.io/not-ready")),
    of("", &["Node"], "^spec.taints.[].effect", Str("NoSchedule")),
];
