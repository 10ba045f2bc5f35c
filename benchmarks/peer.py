"""The peer: the llama-index pipeline a team would build in an afternoon.

SimpleDirectoryReader over the package, the library's default SentenceSplitter, a
VectorStoreIndex in a local Chroma, the same MiniLM embeddings (wrapped as a llama-index
BaseEmbedding), dense top-k retrieval. PDF and DOCX files are given to it as the text
kbassist's loader extracted (the afternoon team would install llama-index-readers-file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
from llama_index.core import (
    Document,
    Settings,
    SimpleDirectoryReader,
    StorageContext,
    VectorStoreIndex,
)
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from kbassist.adapters.embeddings import Embedder
from kbassist.core.models import KnowledgePackage

TEXT_EXTS = [".md", ".markdown", ".txt", ".html", ".htm", ".yaml"]


class LlamaEmbedding(BaseEmbedding):
    """kbassist's Embedder as a llama-index embedding model."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name="minilm-int8", embed_batch_size=64, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_batch([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_batch([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_batch(texts).tolist()


def documents(kb: Path, package: KnowledgePackage) -> list[Document]:
    docs = SimpleDirectoryReader(str(kb), recursive=True, required_exts=TEXT_EXTS,
                                 exclude=["samples/*"]).load_data(show_progress=False)
    for document in package.documents:
        if Path(document.path).suffix.lower() in (".pdf", ".docx"):
            text = "\n\n".join(f"{s.heading}\n{s.text}" for s in document.sections)
            docs.append(Document(text=text, metadata={"file_path": str(kb / document.path),
                                                      "file_name": Path(document.path).name}))
    return docs


class Peer:
    def __init__(self, kb: Path, package: KnowledgePackage, folder: Path,
                 embedder: Embedder, top_k: int = 8) -> None:
        Settings.llm = MockLLM()
        self.embed_model = LlamaEmbedding(embedder)
        Settings.embed_model = self.embed_model
        self.client = chromadb.PersistentClient(
            path=str(folder), settings=chromadb.config.Settings(anonymized_telemetry=False))
        collection = self.client.get_or_create_collection("peer", embedding_function=None)
        store = ChromaVectorStore(chroma_collection=collection)
        context = StorageContext.from_defaults(vector_store=store)
        self.index = VectorStoreIndex.from_documents(documents(kb, package),
                                                     storage_context=context,
                                                     embed_model=self.embed_model)
        self.chunks = collection.count()
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)

    def retrieve(self, question: str) -> Sequence[Any]:
        return self.retriever.retrieve(question)


def peer_hit(nodes: Sequence[Any], wanted: Sequence[str]) -> bool:
    """Lenient: a claim or roadmap id counts as found when a retrieved node's text
    contains ``id: <it>``; a document ref when a node comes from that file."""
    for node in nodes:
        text = node.node.get_content()
        path = str(node.node.metadata.get("file_path", ""))
        for ref in wanted:
            if "#" in ref or "/" in ref:
                if path.endswith(ref.split("#")[0]):
                    return True
            elif f"id: {ref}\n" in text + "\n":
                return True
    return False
